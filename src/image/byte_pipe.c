#include "image/byte_pipe.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct byte_pipe {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* data added, room made, or an end */
	char *ring;
	size_t capacity;
	size_t head;   /* next byte read (index into ring) */
	size_t filled; /* bytes in the ring, the reader's current block included */
	size_t lent;   /* length of the block the reader holds */
	bool closed;   /* the writer is done */
	int error;     /* the writer's failure (errno), 0 for none */
	bool reader_gone;
};

byte_pipe *byte_pipe_new(size_t capacity)
{
	byte_pipe *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->ring = malloc(capacity);
	if (p->ring == NULL) {
		free(p);
		return NULL;
	}
	p->capacity = capacity;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	return p;
}

void byte_pipe_free(byte_pipe *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->changed);
	free(p->ring);
	free(p);
}

int byte_pipe_write(byte_pipe *p, const void *data, size_t len)
{
	const char *src = data;

	pthread_mutex_lock(&p->lock);
	while (len > 0 && !p->reader_gone) {
		size_t tail, room, n;

		if (p->filled == p->capacity) {
			pthread_cond_wait(&p->changed, &p->lock);
			continue;
		}
		tail = (p->head + p->filled) % p->capacity;
		room = p->capacity - p->filled;
		n = p->capacity - tail; /* contiguous up to the end of the ring */
		if (n > room)
			n = room;
		if (n > len)
			n = len;
		/* the reader only looks at filled bytes, so the copy into free
		 * room needs no lock */
		pthread_mutex_unlock(&p->lock);
		memcpy(p->ring + tail, src, n);
		pthread_mutex_lock(&p->lock);
		if (p->reader_gone)
			break;
		p->filled += n;
		src += n;
		len -= n;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void byte_pipe_close(byte_pipe *p, int error)
{
	pthread_mutex_lock(&p->lock);
	if (!p->closed) {
		p->closed = true;
		p->error = error;
	}
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

ssize_t byte_pipe_read(byte_pipe *p, const void **buf)
{
	ssize_t ret;

	pthread_mutex_lock(&p->lock);
	/* the previous block is consumed */
	p->head = (p->head + p->lent) % p->capacity;
	p->filled -= p->lent;
	p->lent = 0;
	pthread_cond_broadcast(&p->changed);
	while (p->filled == 0 && !p->closed)
		pthread_cond_wait(&p->changed, &p->lock);
	if (p->closed && p->error) {
		ret = -p->error;
	} else if (p->filled == 0) {
		ret = 0;
	} else {
		size_t n = p->capacity - p->head;

		p->lent = n < p->filled ? n : p->filled;
		*buf = p->ring + p->head;
		ret = (ssize_t)p->lent;
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void byte_pipe_reader_done(byte_pipe *p)
{
	pthread_mutex_lock(&p->lock);
	p->reader_gone = true;
	p->lent = 0;
	p->filled = 0;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}
