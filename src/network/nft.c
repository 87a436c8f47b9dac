/* nft: not written yet (issue 8). */
