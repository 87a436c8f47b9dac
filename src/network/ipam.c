/* ipam: not written yet (issue 8). */
