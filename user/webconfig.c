// SPDX-License-Identifier: MIT
#include "webconfig.h"

#include <crypt.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <yaml.h>

#include "strbuf.h"

#define DIGEST_LEN 32

struct user {
	char *name;
	char *hash;
	unsigned char ok[DIGEST_LEN]; /* SHA-256 of the last password that matched */
	bool has_ok;
};

struct webconfig {
	char *cert_file, *key_file;
	char *cert_pem, *key_pem;
	struct user *users;
	size_t nusers;
	uint64_t budget_s; /* the second the budget below is for */
	unsigned bcrypts;  /* bcrypt checks in that second */
	unsigned char spent[WEBCONFIG_BCRYPT_PER_S][16]; /* by these clients */
};

/* The largest PEM file read: a certificate chain is a few kB. */
#define PEM_MAX (1u << 20)

static const char supported[] =
	"wsgitrace supports tls_server_config.cert_file, tls_server_config.key_file and basic_auth_users";

void webconfig_free(struct webconfig *w)
{
	size_t i;

	if (!w)
		return;
	for (i = 0; i < w->nusers; i++) {
		free(w->users[i].name);
		free(w->users[i].hash);
	}
	free(w->users);
	free(w->cert_file);
	free(w->key_file);
	free(w->cert_pem);
	if (w->key_pem) {
		explicit_bzero(w->key_pem, strlen(w->key_pem));
		free(w->key_pem);
	}
	free(w);
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A path relative to the config file's folder, as the exporters resolve it. */
static char *resolve(const char *dir, const char *p)
{
	char *out;

	if (p[0] == '/' || !dir || !*dir)
		return strdup(p);
	if (asprintf(&out, "%s/%s", dir, p) < 0)
		return NULL;
	return out;
}

/* A bcrypt hash crypt() takes: $2a$, $2b$ or $2y$, a two-digit cost, 53 characters of salt and hash. */
static bool is_bcrypt(const char *h)
{
	return strlen(h) == 60 && h[0] == '$' && h[1] == '2' && strchr("aby", h[2]) && h[3] == '$' &&
	       h[4] >= '0' && h[4] <= '3' && h[5] >= '0' && h[5] <= '9' && h[6] == '$';
}

static int parse_tls(struct webconfig *w, yaml_document_t *doc, yaml_node_t *m, const char *dir, char *err,
		     size_t errlen)
{
	yaml_node_pair_t *p;

	if (m->type != YAML_MAPPING_NODE) {
		err_printf(err, errlen, "tls_server_config must be a mapping (cert_file: ..., key_file: ...)");
		return -1;
	}
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));
		const char *v = scalar(yaml_document_get_node(doc, p->value));
		char **dst;

		if (k && !strcmp(k, "cert_file"))
			dst = &w->cert_file;
		else if (k && !strcmp(k, "key_file"))
			dst = &w->key_file;
		else {
			err_printf(err, errlen, "tls_server_config.%s is not supported: %s", k ? k : "?", supported);
			return -1;
		}
		if (!v || !*v) {
			err_printf(err, errlen, "tls_server_config.%s must be a file name", k);
			return -1;
		}
		free(*dst);
		if (!(*dst = resolve(dir, v))) {
			err_printf(err, errlen, "out of memory");
			return -1;
		}
	}
	if (!w->cert_file != !w->key_file) {
		err_printf(err, errlen, "tls_server_config needs both cert_file and key_file (missing %s)",
			   w->cert_file ? "key_file" : "cert_file");
		return -1;
	}
	return 0;
}

static int parse_users(struct webconfig *w, yaml_document_t *doc, yaml_node_t *m, char *err, size_t errlen)
{
	yaml_node_pair_t *p;
	size_t n;

	if (m->type == YAML_SCALAR_NODE && !*scalar(m))
		return 0; /* "basic_auth_users:" with nothing under it */
	if (m->type != YAML_MAPPING_NODE) {
		err_printf(err, errlen, "basic_auth_users must be a mapping of user names to bcrypt hashes");
		return -1;
	}
	n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	w->users = calloc(n ? n : 1, sizeof(*w->users));
	if (!w->users) {
		err_printf(err, errlen, "out of memory");
		return -1;
	}
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));
		const char *v = scalar(yaml_document_get_node(doc, p->value));
		struct user *u = &w->users[w->nusers];

		if (!k || !*k || strchr(k, ':')) {
			err_printf(err, errlen, "basic_auth_users: user names must be non-empty text without ':'");
			return -1;
		}
		if (!v || !is_bcrypt(v)) {
			err_printf(err, errlen,
				   "basic_auth_users.%s: not a bcrypt hash ($2y$10$ and 53 more characters); make one "
				   "with htpasswd -nBC 10 %s",
				   k, k);
			return -1;
		}
		u->name = strdup(k);
		u->hash = strdup(v);
		if (!u->name || !u->hash) {
			free(u->name);
			free(u->hash);
			err_printf(err, errlen, "out of memory");
			return -1;
		}
		w->nusers++;
	}
	return 0;
}

struct webconfig *webconfig_parse(const char *yaml, size_t len, const char *dir, char *err, size_t errlen)
{
	struct webconfig *w = calloc(1, sizeof(*w));
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	yaml_node_pair_t *p;
	int rc = -1;

	if (!w || !yaml_parser_initialize(&parser)) {
		free(w);
		err_printf(err, errlen, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, &doc)) {
		err_printf(err, errlen, "not valid YAML: %s at line %zu", parser.problem ? parser.problem : "error",
			   parser.problem_mark.line + 1);
		yaml_parser_delete(&parser);
		webconfig_free(w);
		return NULL;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root || (root->type == YAML_SCALAR_NODE && !*scalar(root))) {
		rc = 0; /* empty: no TLS, no authentication */
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		err_printf(err, errlen, "the top level must be a mapping (tls_server_config:, basic_auth_users:)");
		goto out;
	}
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(&doc, p->key));
		yaml_node_t *v = yaml_document_get_node(&doc, p->value);

		if (k && !strcmp(k, "tls_server_config")) {
			if (parse_tls(w, &doc, v, dir, err, errlen))
				goto out;
		} else if (k && !strcmp(k, "basic_auth_users")) {
			if (parse_users(w, &doc, v, err, errlen))
				goto out;
		} else {
			err_printf(err, errlen, "%s is not supported: %s", k ? k : "a non-text key", supported);
			goto out;
		}
	}
	rc = 0;
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc) {
		webconfig_free(w);
		return NULL;
	}
	return w;
}

/* The whole of a small file, NUL terminated; NULL with errno set. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(PEM_MAX + 1);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(buf, 1, PEM_MAX + 1, f);
	if (ferror(f) || n > PEM_MAX) {
		int e = ferror(f) ? EIO : EFBIG;

		free(buf);
		fclose(f);
		errno = e;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

struct webconfig *webconfig_load(const char *path, char *err, size_t errlen)
{
	char *text, *dir, *slash, e[256];
	struct webconfig *w;
	size_t len;

	text = slurp(path, &len);
	if (!text) {
		err_printf(err, errlen, "--web.config.file %s: %s", path, strerror(errno));
		return NULL;
	}
	dir = strdup(path);
	if (!dir) {
		free(text);
		err_printf(err, errlen, "out of memory");
		return NULL;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	w = webconfig_parse(text, len, slash == dir ? "/" : dir, e, sizeof(e));
	free(text);
	free(dir);
	if (!w) {
		err_printf(err, errlen, "--web.config.file %s: %s", path, e);
		return NULL;
	}
	if (w->cert_file) {
		const char *bad = NULL;

		if (!(w->cert_pem = slurp(w->cert_file, NULL)))
			bad = w->cert_file;
		else if (!(w->key_pem = slurp(w->key_file, NULL)))
			bad = w->key_file;
		if (bad) {
			err_printf(err, errlen, "--web.config.file %s: cannot read %s: %s", path, bad, strerror(errno));
			webconfig_free(w);
			return NULL;
		}
	}
	return w;
}

const char *webconfig_cert_pem(const struct webconfig *w)
{
	return w->cert_pem;
}

const char *webconfig_key_pem(const struct webconfig *w)
{
	return w->key_pem;
}

bool webconfig_has_users(const struct webconfig *w)
{
	return w->nusers > 0;
}

static bool same(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* Takes one of this second's bcrypt checks for client: false if none is left, or it had one. */
static bool take_check(struct webconfig *w, const unsigned char client[16], uint64_t now_ms)
{
	unsigned i;

	if (now_ms / 1000 != w->budget_s) {
		w->budget_s = now_ms / 1000;
		w->bcrypts = 0;
	}
	if (w->bcrypts >= WEBCONFIG_BCRYPT_PER_S)
		return false;
	for (i = 0; i < w->bcrypts; i++)
		if (!memcmp(w->spent[i], client, 16))
			return false;
	memcpy(w->spent[w->bcrypts++], client, 16);
	return true;
}

enum webconfig_auth webconfig_check(struct webconfig *w, const unsigned char client[16], const char *user,
				    const char *password, uint64_t now_ms)
{
	struct crypt_data *cd;
	struct user *u = NULL;
	unsigned char digest[DIGEST_LEN];
	const char *h;
	bool ok;
	size_t i;

	if (!w->nusers || !user || !password)
		return WEBCONFIG_DENIED;
	for (i = 0; i < w->nusers; i++)
		if (!strcmp(w->users[i].name, user))
			u = &w->users[i];
	if (u && gnutls_hash_fast(GNUTLS_DIG_SHA256, password, strlen(password), digest) == 0 && u->has_ok &&
	    same(digest, u->ok, DIGEST_LEN))
		return WEBCONFIG_OK;
	if (!take_check(w, client, now_ms))
		return WEBCONFIG_BUSY;
	cd = calloc(1, sizeof(*cd)); /* 32 kB: not on the stack */
	if (!cd)
		return WEBCONFIG_DENIED;
	/* An unknown user pays for a bcrypt too, so timing does not tell
	 * which user names exist. */
	h = crypt_r(password, u ? u->hash : w->users[0].hash, cd);
	ok = u && h && strlen(h) == strlen(u->hash) && same(h, u->hash, strlen(h));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	if (ok && gnutls_hash_fast(GNUTLS_DIG_SHA256, password, strlen(password), u->ok) == 0)
		u->has_ok = true;
	return ok ? WEBCONFIG_OK : WEBCONFIG_DENIED;
}
