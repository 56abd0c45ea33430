// SPDX-License-Identifier: MIT
/* svckey: a service's name and its pod's labels, one key, one renderer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "svckey.h"

static const char *render(const char *key)
{
	static struct strbuf sb = STRBUF_INIT;

	sb_reset(&sb);
	svckey_render(&sb, key);
	sb_putc(&sb, 0);
	return sb.buf;
}

static void test_plain(void **state)
{
	char key[SVCKEY_MAX];

	svckey_make(key, sizeof(key), "flask_app", NULL);
	assert_string_equal(key, "flask_app");
	assert_int_equal(svckey_service_len(key), 9);
	assert_string_equal(render(key), "service_name=\"flask_app\"");
}

static void test_pod(void **state)
{
	struct podmeta m = { 0 };
	char key[SVCKEY_MAX];

	strcpy(m.namespace_name, "shop");
	strcpy(m.pod_name, "web-7d4b9c8f6d-x2x9k");
	strcpy(m.container_name, "app");
	strcpy(m.deployment_name, "web");
	svckey_make(key, sizeof(key), "web", &m);
	assert_int_equal(svckey_service_len(key), 3);
	assert_string_equal(render(key), "k8s_container_name=\"app\",k8s_deployment_name=\"web\","
					 "k8s_namespace_name=\"shop\",k8s_pod_name=\"web-7d4b9c8f6d-x2x9k\","
					 "service_name=\"web\"");
	/* Unknown parts leave their label out. */
	m.deployment_name[0] = 0;
	m.container_name[0] = 0;
	svckey_make(key, sizeof(key), "static-pod", &m);
	assert_string_equal(render(key), "k8s_namespace_name=\"shop\",k8s_pod_name=\"web-7d4b9c8f6d-x2x9k\","
					 "service_name=\"static-pod\"");
}

static void test_hostile_service_name(void **state)
{
	char key[SVCKEY_MAX];

	/* A command line cannot forge a pod's labels, and quotes are escaped. */
	svckey_make(key, sizeof(key), "a\x1fns\x1fpod\"x", NULL);
	assert_string_equal(render(key), "service_name=\"a_ns_pod\\\"x\"");
	/* Cut to the buffer, never past it. */
	svckey_make(key, 4, "abcdef", NULL);
	assert_string_equal(key, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_pod),
		cmocka_unit_test(test_hostile_service_name),
	};

	return cmocka_run_group_tests_name("svckey", tests, NULL, NULL);
}
