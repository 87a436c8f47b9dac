/* The needed stages of a build, each started (in a thread of its own) as
 * soon as the stages it reads are built. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "build/executor_internal.h"

typedef enum job_state { JOB_IDLE, JOB_RUNNING, JOB_DONE, JOB_FAILED } job_state;

typedef struct stage_job {
	build_ctx *c;
	size_t i;
	unsigned *n;
	pthread_t thread;
	job_state state;
	int ret;
	berth_error *err;
	struct scheduler *sched;
} stage_job;

typedef struct scheduler {
	pthread_mutex_t lock;
	pthread_cond_t finished;
	stage_job *jobs;
} scheduler;

static void *stage_thread(void *arg)
{
	stage_job *job = arg;
	int ret = build_stage(job->c, job->i, job->n, &job->err);

	pthread_mutex_lock(&job->sched->lock);
	job->ret = ret;
	job->state = ret < 0 ? JOB_FAILED : JOB_DONE;
	pthread_cond_signal(&job->sched->finished);
	pthread_mutex_unlock(&job->sched->lock);
	return NULL;
}

static bool deps_done(const build_plan *p, const stage_job *jobs, size_t i)
{
	for (size_t d = 0; p->stages[i].deps && p->stages[i].deps[d] >= 0; d++)
		if (jobs[p->stages[i].deps[d]].state != JOB_DONE)
			return false;
	return true;
}

/* A job finished and not yet joined? (under the lock) */
static bool any_finished(const build_plan *p, const stage_job *jobs)
{
	for (size_t i = 0; i < p->n_stages; i++)
		if ((jobs[i].state == JOB_DONE || jobs[i].state == JOB_FAILED) && jobs[i].c)
			return true;
	return false;
}

/* Builds every needed stage, each as soon as the stages it reads are built:
 * independent stages run at the same time (one thread each). The first
 * failure stops new stages from starting; running ones finish. */
int build_stages(build_ctx *c, unsigned *n, berth_error **err)
{
	const build_plan *p = c->plan;
	scheduler sched = { .lock = PTHREAD_MUTEX_INITIALIZER, .finished = PTHREAD_COND_INITIALIZER };
	size_t running = 0;
	bool failed = false;
	int ret = 0;

	sched.jobs = calloc(p->n_stages, sizeof(stage_job));
	if (sched.jobs == NULL)
		return berth_error_set(err, ENOMEM, "build");
	pthread_mutex_lock(&sched.lock);
	for (;;) {
		for (size_t i = 0; !failed && i < p->n_stages; i++) {
			stage_job *job = &sched.jobs[i];
			if (!p->stages[i].needed || job->state != JOB_IDLE || !deps_done(p, sched.jobs, i))
				continue;
			*job = (stage_job){ .c = c, .i = i, .n = n, .state = JOB_RUNNING, .sched = &sched };
			if (pthread_create(&job->thread, NULL, stage_thread, job) != 0) {
				job->c = NULL; /* no thread to join */
				job->state = JOB_FAILED;
				job->ret = berth_error_set(&job->err, EAGAIN, "build: start a thread for stage %zu", i);
				failed = true;
				break;
			}
			running++;
		}
		if (running == 0)
			break;
		/* a job may have finished while the lock was dropped for a join */
		while (!any_finished(p, sched.jobs))
			pthread_cond_wait(&sched.finished, &sched.lock);
		for (size_t i = 0; i < p->n_stages; i++) {
			stage_job *job = &sched.jobs[i];
			if ((job->state == JOB_DONE || job->state == JOB_FAILED) && job->c) {
				pthread_mutex_unlock(&sched.lock);
				pthread_join(job->thread, NULL);
				pthread_mutex_lock(&sched.lock);
				job->c = NULL; /* joined */
				running--;
				failed = failed || job->state == JOB_FAILED;
			}
		}
	}
	pthread_mutex_unlock(&sched.lock);
	/* the first error in file order; the others are dropped */
	for (size_t i = 0; i < p->n_stages; i++) {
		if (sched.jobs[i].state == JOB_FAILED && ret == 0) {
			ret = sched.jobs[i].ret < 0 ? sched.jobs[i].ret : -1;
			*err = sched.jobs[i].err;
			sched.jobs[i].err = NULL;
		}
		berth_error_free(&sched.jobs[i].err);
	}
	if (ret == 0 && sched.jobs[p->target].state != JOB_DONE)
		ret = berth_error_set(err, EINVAL, "build: the target stage was not built");
	free(sched.jobs);
	return ret;
}
