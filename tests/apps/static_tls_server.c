// SPDX-License-Identifier: MIT
/*
 * A server whose TLS cannot be read: OpenSSL linked in statically with its
 * symbols hidden and the binary stripped (as standalone Python builds ship
 * it), so it maps no libssl and has no SSL_read to probe. test_tls.py builds
 * it from libssl-dev's archives:
 *
 *   cc -O2 static_tls_server.c -o static-tls-server -Wl,-Bstatic -lssl -lcrypto \
 *      -Wl,-Bdynamic -Wl,--exclude-libs,ALL -s
 *
 * Usage: static-tls-server PORT CERT KEY. Answers every request on a new
 * connection with 200 and closes it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
	struct sockaddr_in a = { .sin_family = AF_INET };
	SSL_CTX *ctx;
	int ls, one = 1;

	if (argc != 4)
		return 2;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 64)) {
		perror("listen");
		return 1;
	}
	for (;;) {
		char buf[8192];
		size_t got = 0;
		int c = accept(ls, NULL, NULL);
		SSL *s;

		if (c < 0)
			continue;
		s = SSL_new(ctx);
		SSL_set_fd(s, c);
		if (SSL_accept(s) == 1) {
			/* The request head, to its blank line. */
			while (got < sizeof(buf) - 1) {
				int n = SSL_read(s, buf + got, (int)(sizeof(buf) - 1 - got));

				if (n <= 0)
					break;
				got += (size_t)n;
				buf[got] = 0;
				if (strstr(buf, "\r\n\r\n"))
					break;
			}
			if (got)
				SSL_write(s, resp, (int)sizeof(resp) - 1);
			SSL_shutdown(s);
		}
		SSL_free(s);
		close(c);
	}
}
