/* cni: not written yet (issue 8). */
