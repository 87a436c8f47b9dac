/* netlink: not written yet (issue 8). */
