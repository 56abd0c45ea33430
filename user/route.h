/* SPDX-License-Identifier: MIT */
/*
 * The http_route label: the request path as the client sent it, made safe and
 * bounded for a Prometheus label value, with id-like segments optionally
 * folded to "{id}" to keep the number of series down.
 */
#ifndef WT_ROUTE_H
#define WT_ROUTE_H

#include <stddef.h>

/*
 * Longest route label (bytes, without the NUL) the daemon keeps. Longer paths
 * are cut at a character boundary: many distinct long paths then share one
 * series, which is what a label wants.
 */
#define ROUTE_MAX 256
/* What a folded segment becomes. */
#define ROUTE_ID "{id}"
/* What a byte that is not valid UTF-8, or a control character, becomes: U+FFFD. */
#define ROUTE_BAD "\xef\xbf\xbd"

/*
 * How much of a request-target its route is made from: up to its query
 * ('?...') or fragment ('#...'). The part past it is never kept: the
 * tracker stores a request's target cut here, and the route and --trace's
 * path are made of that.
 */
size_t route_path_len(const char *target, size_t len);

/*
 * Writes the route for an origin-form path[0..len), cut by route_path_len(),
 * to out (always NUL terminated when outsz > 0) and returns its length.
 * Other target forms are labels.c's business. Rules, in order:
 *  - an empty path becomes "/";
 *  - each segment's parameters (";jsessionid=...") are dropped;
 *  - with fold_ids, a segment between slashes becomes "{id}" when it is
 *      all digits ("/users/42"),
 *      a UUID (8-4-4-4-12 hex digits),
 *      hex digits only, >= 16 long, with a digit ("/blob/0123456789abcdef"),
 *      or a long mixed token: >= 16 letters and digits only, with at least
 *      2 letters and at least 2 digits ("/t/a8Zk2LmQ9xw7PbT4");
 *    anything else stays as it is ("/test1/", "/v2/", "/index.html",
 *    "/my-post-2024");
 *  - bytes that are not well-formed UTF-8, and control characters, become
 *    U+FFFD each, so what reaches the exposition is valid UTF-8;
 *  - the output stops, at a character boundary, before outsz - 1 bytes.
 * Otherwise the path is kept as sent: "/test/" and "/test" stay apart, "//"
 * and percent-escapes are not rewritten.
 */
size_t route_normalize(const char *path, size_t len, char *out, size_t outsz, int fold_ids);

/* Whether one path segment (no slashes) would be folded to "{id}". */
int route_segment_is_id(const char *seg, size_t len);

#endif /* WT_ROUTE_H */
