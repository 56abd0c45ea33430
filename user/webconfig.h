/* SPDX-License-Identifier: MIT */
/*
 * --web.config.file: TLS and basic authentication for /metrics, in the web
 * configuration format of the Prometheus exporters (exporter-toolkit), so
 * operators reuse the file they already have:
 *
 *   tls_server_config:
 *     cert_file: server.crt      # PEM; relative to the file's folder
 *     key_file: server.key
 *   basic_auth_users:
 *     prometheus: $2y$10$...     # bcrypt, e.g. htpasswd -nBC 10 prometheus
 *
 * Both parts are optional; an empty file changes nothing. Keys wsgitrace
 * does not implement (client certificates, TLS versions and ciphers,
 * http_server_config) are refused by name rather than ignored, since
 * ignoring a security setting would be worse than failing to start.
 */
#ifndef WT_WEBCONFIG_H
#define WT_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct webconfig;

/* Reads and checks the file, and the certificate and key it names. NULL with err set. */
struct webconfig *webconfig_load(const char *path, char *err, size_t errlen);
/* The same from YAML text; relative paths are taken from dir. */
struct webconfig *webconfig_parse(const char *yaml, size_t len, const char *dir, char *err, size_t errlen);
void webconfig_free(struct webconfig *w);

/* PEM contents, or NULL without tls_server_config. */
const char *webconfig_cert_pem(const struct webconfig *w);
const char *webconfig_key_pem(const struct webconfig *w);
/* Whether requests must carry basic authentication. */
bool webconfig_has_users(const struct webconfig *w);
/* bcrypt checks per second at most: ~70 ms each at cost 10, on the daemon's one thread. */
#define WEBCONFIG_BCRYPT_PER_S 5

enum webconfig_auth {
	WEBCONFIG_DENIED = 0,
	WEBCONFIG_OK,
	WEBCONFIG_BUSY, /* not checked: this second's bcrypt budget is spent */
};

/*
 * Whether user and password match a basic_auth_users entry (bcrypt). A pair
 * that matched before is recognised without bcrypt: only its SHA-256 is
 * kept. Other pairs take a bcrypt, at most WEBCONFIG_BCRYPT_PER_S per second
 * (now_ms: a monotonic clock) and one per client address (16 bytes, IPv4
 * mapped) per second, so that guessing passwords cannot stall the daemon and
 * a few guessing clients cannot take every check from a scraper whose
 * password is new. Unknown users take as long as known ones.
 */
enum webconfig_auth webconfig_check(struct webconfig *w, const unsigned char client[16], const char *user,
				    const char *password, uint64_t now_ms);

#endif /* WT_WEBCONFIG_H */
