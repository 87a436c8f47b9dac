/* libmicrohttpd, loaded when `berth system service` starts.
 *
 * libmicrohttpd links GnuTLS (and through it nettle, p11-kit, libtasn1...);
 * loading them would cost every berth command at start, and only the API
 * service serves HTTP. So berth does not link it: this file defines the
 * functions src/api calls and forwards them to libmicrohttpd.so.12, opened
 * with dlopen on first use (util/dlib.h, as image/curl_loader.c). When it
 * cannot be loaded, MHD_start_daemon returns NULL and
 * api_microhttpd_error() says why. */
#include <microhttpd.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/http.h"
#include "util/dlib.h"

#define MHD_LIBRARY "libmicrohttpd.so.12"

static struct {
	struct MHD_Daemon *(*start_daemon_va)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
					      MHD_AccessHandlerCallback, void *, va_list);
	const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind, const char *);
	int (*get_connection_values)(struct MHD_Connection *, enum MHD_ValueKind, MHD_KeyValueIterator, void *);
	struct MHD_Response *(*create_response_from_buffer)(size_t, void *, enum MHD_ResponseMemoryMode);
	struct MHD_Response *(*create_response_from_callback)(uint64_t, size_t, MHD_ContentReaderCallback, void *,
							      MHD_ContentReaderFreeCallback);
	struct MHD_Response *(*create_response_for_upgrade)(MHD_UpgradeHandler, void *);
	enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
	enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
	void (*destroy_response)(struct MHD_Response *);
	const union MHD_ConnectionInfo *(*get_connection_info)(struct MHD_Connection *, enum MHD_ConnectionInfoType,
							       ...);
	enum MHD_Result (*upgrade_action)(struct MHD_UpgradeResponseHandle *, enum MHD_UpgradeAction, ...);
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];
static bool loaded;

static void load(void)
{
	const dlib_symbol symbols[] = {
		{ "MHD_start_daemon_va", (void **)&lib.start_daemon_va },
		{ "MHD_lookup_connection_value", (void **)&lib.lookup_connection_value },
		{ "MHD_get_connection_values", (void **)&lib.get_connection_values },
		{ "MHD_create_response_from_buffer", (void **)&lib.create_response_from_buffer },
		{ "MHD_create_response_from_callback", (void **)&lib.create_response_from_callback },
		{ "MHD_create_response_for_upgrade", (void **)&lib.create_response_for_upgrade },
		{ "MHD_add_response_header", (void **)&lib.add_response_header },
		{ "MHD_queue_response", (void **)&lib.queue_response },
		{ "MHD_destroy_response", (void **)&lib.destroy_response },
		{ "MHD_get_connection_info", (void **)&lib.get_connection_info },
		{ "MHD_upgrade_action", (void **)&lib.upgrade_action },
	};

	loaded = dlib_open(MHD_LIBRARY, "libmicrohttpd12", symbols, sizeof(symbols) / sizeof(symbols[0]), load_error,
			   sizeof(load_error)) == 0;
}

static bool ready(void)
{
	pthread_once(&load_once, load);
	return loaded;
}

const char *api_microhttpd_error(void)
{
	return ready() ? NULL : load_error;
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc, void *apc_cls,
				    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	struct MHD_Daemon *d;
	va_list ap;

	if (!ready())
		return NULL;
	va_start(ap, dh_cls);
	d = lib.start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *c, enum MHD_ValueKind kind, const char *key)
{
	return ready() ? lib.lookup_connection_value(c, kind, key) : NULL;
}

int MHD_get_connection_values(struct MHD_Connection *c, enum MHD_ValueKind kind, MHD_KeyValueIterator it, void *cls)
{
	return ready() ? lib.get_connection_values(c, kind, it, cls) : -1;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer, enum MHD_ResponseMemoryMode mode)
{
	return ready() ? lib.create_response_from_buffer(size, buffer, mode) : NULL;
}

struct MHD_Response *MHD_create_response_from_callback(uint64_t size, size_t block_size, MHD_ContentReaderCallback crc,
						       void *crc_cls, MHD_ContentReaderFreeCallback crfc)
{
	return ready() ? lib.create_response_from_callback(size, block_size, crc, crc_cls, crfc) : NULL;
}

struct MHD_Response *MHD_create_response_for_upgrade(MHD_UpgradeHandler upgrade_handler, void *upgrade_handler_cls)
{
	return ready() ? lib.create_response_for_upgrade(upgrade_handler, upgrade_handler_cls) : NULL;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *r, const char *header, const char *content)
{
	return ready() ? lib.add_response_header(r, header, content) : MHD_NO;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *c, unsigned int status_code, struct MHD_Response *r)
{
	return ready() ? lib.queue_response(c, status_code, r) : MHD_NO;
}

void MHD_destroy_response(struct MHD_Response *r)
{
	if (ready())
		lib.destroy_response(r);
}

/* the info types src/api asks for take no extra argument */
const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *c, enum MHD_ConnectionInfoType type, ...)
{
	return ready() ? lib.get_connection_info(c, type) : NULL;
}

/* the actions src/api takes (close) take no extra argument */
enum MHD_Result MHD_upgrade_action(struct MHD_UpgradeResponseHandle *urh, enum MHD_UpgradeAction action, ...)
{
	return ready() ? lib.upgrade_action(urh, action) : MHD_NO;
}

/* ---- client certificates: GnuTLS, loaded with libmicrohttpd ---- */

static pthread_once_t gnutls_once = PTHREAD_ONCE_INIT;
static int (*verify_peers2)(void *session, unsigned int *status);

static void load_gnutls(void)
{
	/* libmicrohttpd's own GnuTLS, already in the process: no new library */
	void *h = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_NOLOAD);

	if (h)
		*(void **)&verify_peers2 = dlsym(h, "gnutls_certificate_verify_peers2");
}

bool api_tls_peer_verified(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	unsigned int status = ~0U;

	if (!ready())
		return false;
	pthread_once(&gnutls_once, load_gnutls);
	ci = lib.get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (verify_peers2 == NULL || ci == NULL || ci->tls_session == NULL)
		return false;
	/* < 0 (no certificate sent among others) or a status bit: refused */
	return verify_peers2(ci->tls_session, &status) == 0 && status == 0;
}
