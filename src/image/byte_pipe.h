/* A bounded in-memory pipe of bytes between two threads of one process: a
 * download (curl's write callback) writes, a layer unpack (libarchive's
 * read callback) reads, so the two overlap instead of following each other.
 *
 * One ring buffer of a fixed capacity: the writer copies in and waits while
 * the ring is full; the reader gets pointers into the ring, each block
 * valid until its next read (what libarchive's read callback needs), so the
 * bytes are copied once. Either side ends its part:
 *   byte_pipe_close(p, 0)       the writer is done: reads return 0 at the end
 *   byte_pipe_close(p, ERRNO)   the writer failed: reads return -ERRNO at once
 *   byte_pipe_reader_done(p)    the reader stopped (finished or failed): later
 *                               writes are dropped, never blocked, so the
 *                               download can still be read to its end and
 *                               verified. */
#ifndef BERTH_IMAGE_BYTE_PIPE_H
#define BERTH_IMAGE_BYTE_PIPE_H

#include <stddef.h>
#include <sys/types.h>

typedef struct byte_pipe byte_pipe;

/* CAPACITY bytes of buffer; NULL when out of memory. */
byte_pipe *byte_pipe_new(size_t capacity);
void byte_pipe_free(byte_pipe *p);

/* Copies LEN bytes in, waiting for room. Returns 0, also when the reader is
 * done (the bytes are dropped). */
int byte_pipe_write(byte_pipe *p, const void *data, size_t len);
void byte_pipe_close(byte_pipe *p, int error);

/* The next block: its length (> 0) with *BUF pointing at it, 0 at the end,
 * or -errno of the writer's failure. Releases the block of the previous call. */
ssize_t byte_pipe_read(byte_pipe *p, const void **buf);
void byte_pipe_reader_done(byte_pipe *p);

#endif
