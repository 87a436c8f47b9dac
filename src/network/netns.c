/* netns: not written yet (issue 8). */
