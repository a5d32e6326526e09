// SPDX-License-Identifier: GPL-2.0-or-later
/* The C API as a C consumer sees it: compiled as C, linked against
 * libbd_remap, GLib and libblockdev's utils (options, progress) only,
 * using nothing but <bd_remap.h> and <blockdev/utils.h>. Needs no devices;
 * the formatted-image case runs dmremapctl ($DMREMAPCTL). */
#include <bd_remap.h>
#include <blockdev/utils.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                                                               \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			fprintf(stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond);                            \
			fprintf(stderr, __VA_ARGS__);                                                                  \
			fputc('\n', stderr);                                                                           \
			failures++;                                                                                    \
		}                                                                                                      \
	} while (0)

/* A check that later steps depend on: stop here rather than crash. The
 * condition is evaluated once; it may have side effects. */
#define REQUIRE(cond, ...)                                                                                             \
	do {                                                                                                           \
		const int require_ok_ = !!(cond);                                                                      \
		CHECK(require_ok_, __VA_ARGS__);                                                                       \
		if (!require_ok_)                                                                                      \
			exit(1);                                                                                       \
	} while (0)

static const char *msg(const GError *e)
{
	return e ? e->message : "(no error)";
}

static void test_tech(void)
{
	GError *err = NULL;
	CHECK(bd_remap_is_tech_avail(BD_REMAP_TECH_REMAP, BD_REMAP_TECH_MODE_QUERY, &err), "QUERY: %s", msg(err));
	CHECK(err == NULL, "QUERY set an error: %s", msg(err));
	g_clear_error(&err);

	CHECK(!bd_remap_is_tech_avail((BDRemapTech)42, BD_REMAP_TECH_MODE_QUERY, &err), "unknown tech accepted");
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_TECH_UNAVAIL), "unknown tech: %s", msg(err));
	g_clear_error(&err);

	/* Whatever the machine has, a FALSE must say what is missing. */
	const guint64 modes = BD_REMAP_TECH_MODE_CREATE | BD_REMAP_TECH_MODE_MODIFY | BD_REMAP_TECH_MODE_ACTIVATE;
	const gboolean avail = bd_remap_is_tech_avail(BD_REMAP_TECH_REMAP, modes, &err);
	if (!avail) {
		CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_TECH_UNAVAIL), "CREATE: %s", msg(err));
		CHECK(err && (strstr(err->message, "/dev/mapper/control") || strstr(err->message, "remap target")),
		      "message names nothing missing: %s", msg(err));
	} else {
		CHECK(err == NULL, "TRUE with an error: %s", msg(err));
	}
	g_clear_error(&err);

	/* Decided independently: without the module loaded or installed the
	 * answer has to be FALSE. */
	struct utsname u;
	REQUIRE(uname(&u) == 0, "uname");
	gchar *moddir = g_build_filename("/lib/modules", u.release, NULL);
	if (access("/sys/module/dm_remap", F_OK) != 0 && access(moddir, F_OK) != 0)
		CHECK(!avail, "remap target reported available without module or %s", moddir);
	g_free(moddir);
}

static void test_errors(void)
{
	const GQuark q = bd_remap_error_quark();
	CHECK(q != 0, "error quark is 0");
	CHECK(q == BD_REMAP_ERROR && q == bd_remap_error_quark(), "error quark not stable");
	CHECK(q == g_quark_from_string("g-bd-remap-error-quark"), "quark string changed: %s", g_quark_to_string(q));

	GError *err = NULL;
	BDRemapDeviceStatus *st = bd_remap_status("no-such-device-xyz", &err);
	CHECK(st == NULL, "status of a missing device returned a status");
	REQUIRE(err != NULL, "status of a missing device set no error");
	CHECK(err->domain == BD_REMAP_ERROR, "domain %s", g_quark_to_string(err->domain));
	/* FAILED only when device-mapper itself is out of reach. */
	if (err->code == BD_REMAP_ERROR_NOT_FOUND)
		CHECK(strstr(err->message, "no-such-device-xyz") != NULL, "message lacks the name: %s", err->message);
	else
		CHECK(err->code == BD_REMAP_ERROR_FAILED && strstr(err->message, "device-mapper") != NULL,
		      "code %d: %s", err->code, err->message);
	g_clear_error(&err);

	st = bd_remap_status(NULL, &err);
	CHECK(st == NULL, "status(NULL) returned a status");
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_INVAL), "status(NULL): %s", msg(err));
	CHECK(err && strstr(err->message, "name") != NULL, "does not name the argument: %s", msg(err));
	g_clear_error(&err);

	CHECK(!bd_remap_stop(NULL, &err), "stop(NULL) succeeded");
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_INVAL), "stop(NULL): %s", msg(err));
	g_clear_error(&err);

	const gchar *none[] = {NULL};
	CHECK(bd_remap_assemble(none, FALSE, &err) == NULL, "assemble of no members succeeded");
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_INVAL), "assemble({}): %s", msg(err));
	CHECK(err && strstr(err->message, "members") != NULL, "does not name the argument: %s", msg(err));
	g_clear_error(&err);

	CHECK(bd_remap_assemble_uuid("not-a-uuid", FALSE, &err) == NULL, "assemble of a bad uuid succeeded");
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_INVAL), "bad uuid: %s", msg(err));
	CHECK(err && strstr(err->message, "not-a-uuid") != NULL, "does not name the value: %s", msg(err));
	g_clear_error(&err);

	/* Without a GError** the failure still shows in the return value. */
	CHECK(bd_remap_status(NULL, NULL) == NULL, "status(NULL, NULL) returned a status");
}

/* Opening the node is what tells a working driver from a stale node:
 * without dm in the kernel the open fails with ENODEV. */
static gboolean dm_reachable(void)
{
	const int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return FALSE;
	close(fd);
	return TRUE;
}

static void test_list(void)
{
	GError *err = NULL;
	BDRemapDeviceStatus **all = bd_remap_list(&err);
	if (!all) {
		/* Only acceptable when device-mapper cannot be reached at all. */
		CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_FAILED) && !dm_reachable(),
		      "list failed with device-mapper reachable: %s", msg(err));
		CHECK(err && strstr(err->message, "device-mapper") != NULL, "message: %s", msg(err));
		g_clear_error(&err);
		return;
	}
	CHECK(err == NULL, "list returned an array and an error: %s", msg(err));
	for (BDRemapDeviceStatus **s = all; *s; s++) {
		CHECK((*s)->name && (*s)->state && (*s)->device && (*s)->spares, "incomplete status in list");
		bd_remap_device_status_free(*s);
	}
	g_free(all);
}

static void test_find_members(void)
{
	GError *err = NULL;
	BDRemapMember **all = bd_remap_find_members(&err);
	if (!all) {
		/* Members' "active" comes from device-mapper; without it the
		 * search fails as a whole. */
		CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_FAILED) && !dm_reachable(),
		      "find_members failed with device-mapper reachable: %s", msg(err));
		g_clear_error(&err);
		return;
	}
	CHECK(err == NULL, "find_members returned an array and an error: %s", msg(err));
	for (BDRemapMember **m = all; *m; m++) {
		CHECK((*m)->devnode && (*m)->set_uuid && strlen((*m)->set_uuid) == 36 &&
			      (g_strcmp0((*m)->role, "data") == 0 || g_strcmp0((*m)->role, "spare") == 0),
		      "implausible member %s", (*m)->devnode);
		bd_remap_member_free(*m);
	}
	g_free(all);
}

static gchar *temp_file(const gchar *dir, const gchar *name, goffset size)
{
	gchar *path = g_build_filename(dir, name, NULL);
	const int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	REQUIRE(fd >= 0, "create %s", path);
	REQUIRE(ftruncate(fd, size) == 0, "truncate %s", path);
	close(fd);
	return path;
}

static gchar *run(gchar **argv, gint *status)
{
	gchar *out = NULL, *errout = NULL;
	GError *err = NULL;
	REQUIRE(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &errout, status, &err), "spawn %s: %s",
		argv[0], msg(err));
	if (*status != 0)
		fprintf(stderr, "%s %s: %s", argv[0], argv[1], errout);
	g_free(errout);
	return out;
}

static void test_probe(const gchar *dir)
{
	GError *err = NULL;

	gchar *blank = temp_file(dir, "blank.img", 16 << 20);
	BDRemapMember *m = bd_remap_probe(blank, &err);
	CHECK(m == NULL, "blank file probed as a member of %s", m ? m->set_name : "");
	CHECK(err == NULL, "blank file: %s", msg(err));
	g_clear_error(&err);
	bd_remap_member_free(m);

	gchar *missing = g_build_filename(dir, "missing.img", NULL);
	m = bd_remap_probe(missing, &err);
	CHECK(m == NULL, "missing file probed as a member");
	CHECK(err && err->domain == BD_REMAP_ERROR && strstr(err->message, missing), "missing file: %s", msg(err));
	g_clear_error(&err);

	CHECK(bd_remap_probe(NULL, &err) == NULL, "probe(NULL) returned a member");
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_INVAL), "probe(NULL): %s", msg(err));
	CHECK(err && strstr(err->message, "dev") != NULL, "does not name the argument: %s", msg(err));
	g_clear_error(&err);

	const gchar *ctl = g_getenv("DMREMAPCTL");
	REQUIRE(ctl != NULL, "DMREMAPCTL is not set (meson sets it)");
	gchar *image = temp_file(dir, "member.img", 128 << 20);
	gint status = -1;
	gchar *fmt_argv[] = {(gchar *)ctl, "format", "--name", "capi", image, NULL};
	g_free(run(fmt_argv, &status));
	REQUIRE(status == 0, "dmremapctl format exit status %d", status);

	/* The CLI's own reading of the superblock, to compare the UUID with. */
	gchar *probe_argv[] = {(gchar *)ctl, "probe", image, NULL};
	gchar *props = run(probe_argv, &status);
	REQUIRE(status == 0, "dmremapctl probe exit status %d", status);
	const gchar *u = strstr(props, "DM_REMAP_SET_UUID=");
	REQUIRE(u != NULL, "no DM_REMAP_SET_UUID in: %s", props);
	gchar *set_uuid = g_strndup(u + strlen("DM_REMAP_SET_UUID="), 36);
	g_free(props);

	m = bd_remap_probe(image, &err);
	REQUIRE(m != NULL, "formatted image not found: %s", msg(err));
	CHECK(err == NULL, "member and error: %s", msg(err));
	CHECK(g_strcmp0(m->set_name, "capi") == 0, "set_name '%s'", m->set_name);
	CHECK(g_strcmp0(m->role, "data") == 0, "role '%s'", m->role);
	CHECK(m->index == 0, "index %u", m->index);
	CHECK(m->generation >= 1, "generation %" G_GUINT64_FORMAT, m->generation);
	CHECK(g_strcmp0(m->set_uuid, set_uuid) == 0, "set_uuid '%s', dmremapctl says '%s'", m->set_uuid, set_uuid);
	CHECK(m->member_uuid && strlen(m->member_uuid) == 36 && g_strcmp0(m->member_uuid, m->set_uuid) != 0,
	      "member_uuid '%s'", m->member_uuid);
	CHECK(m->devnode && strstr(m->devnode, "member.img") != NULL, "devnode '%s'", m->devnode);
	CHECK(m->active == NULL, "an image nobody activated is active as '%s'", m->active);
	bd_remap_member_free(m);

	g_free(set_uuid);
	unlink(image);
	unlink(blank);
	g_free(image);
	g_free(blank);
	g_free(missing);
}

/* A NULL-terminated option list of up to 2 pairs; free with free_args(). */
static BDExtraArg **args(const gchar *k1, const gchar *v1, const gchar *k2, const gchar *v2)
{
	BDExtraArg **a = g_new0(BDExtraArg *, 3);
	int n = 0;
	if (k1)
		a[n++] = bd_extra_arg_new(k1, v1);
	if (k2)
		a[n++] = bd_extra_arg_new(k2, v2);
	return a;
}

static void free_args(BDExtraArg **a)
{
	for (BDExtraArg **p = a; *p; p++)
		bd_extra_arg_free(*p);
	g_free(a);
}

/* Options are refused by key and value before any device is looked at: the
 * devices here do not exist, and the error is about the options. */
/* Case I of a table of bad options: refused (NULL, INVAL) with a message
 * starting EXPECTED. Frees NAME. */
static void expect_inval(gchar *name, const GError *err, const gchar *expected, size_t i)
{
	CHECK(name == NULL, "case %zu: bad options accepted: %s", i, name);
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_INVAL), "case %zu: %s", i, msg(err));
	CHECK(err && g_str_has_prefix(err->message, expected), "case %zu: '%s', expected '%s...'", i, msg(err),
	      expected);
	g_free(name);
}

static void test_create_options(const gchar *dir)
{
	gchar *data = g_build_filename(dir, "no-such-data", NULL);
	gchar *spare = g_build_filename(dir, "no-such-spare", NULL);
	const gchar *spares[] = {spare, NULL};
	const struct {
		const gchar *k1, *v1, *k2, *v2;
		const gchar *expected; /* the start of the message */
	} cases[] = {
		{"blocksize", "4096", NULL, NULL, "options: 'blocksize' = '4096': unknown key"},
		{"block-size", "1000", NULL, NULL, "options: 'block-size' = '1000': block size 1000 is not a power of two"},
		{"block-size", "four", NULL, NULL, "options: 'block-size' = 'four': not a decimal number"},
		{"max-remaps", "100", NULL, NULL, "options: 'max-remaps' = '100': remap capacity must be between 256"},
		{"internal-spare", "1048576", "internal-spare", "3%",
		 "options: 'internal-spare' = '3%': given twice (also as '1048576')"},
		{"internal-spare", "75%", NULL, NULL, "options: 'internal-spare' = '75%': more than 50%"},
		{"uuid", "12345678-1234", NULL, NULL, "options: 'uuid' = '12345678-1234': not a set UUID"},
		{"name", "has space", NULL, NULL, "options: 'name' = 'has space': set name 'has space' is not a valid device name"},
		{"force", "sure", NULL, NULL, "options: 'force' = 'sure': not a flag"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		GError *err = NULL;
		BDExtraArg **a = args(cases[i].k1, cases[i].v1, cases[i].k2, cases[i].v2);
		gchar *name = bd_remap_create_full(data, spares, (const BDExtraArg **)a, &err);
		expect_inval(name, err, cases[i].expected, i);
		g_clear_error(&err);
		free_args(a);
	}

	/* Good options: the devices are looked at next, and are missing. */
	GError *err = NULL;
	BDExtraArg **a = args("block-size", "8192", "internal-spare", "2%");
	gchar *name = bd_remap_create_full(data, spares, (const BDExtraArg **)a, &err);
	CHECK(name == NULL, "create on missing devices returned %s", name);
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_NOT_FOUND) && strstr(err->message, data),
	      "good options, missing data device: %s", msg(err));
	g_clear_error(&err);
	free_args(a);
	/* NULL options are the defaults; the old signature still works. */
	CHECK(bd_remap_create_full(data, NULL, NULL, &err) == NULL, "create on a missing device");
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_NOT_FOUND), "NULL options: %s", msg(err));
	g_clear_error(&err);
	CHECK(bd_remap_create("x", data, spares, 4096, FALSE, &err) == NULL, "create on a missing device");
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_NOT_FOUND), "bd_remap_create: %s", msg(err));
	g_clear_error(&err);
	CHECK(bd_remap_create_full(NULL, spares, NULL, &err) == NULL, "create without a data device");
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_INVAL) && g_str_has_prefix(err->message, "data_dev"),
	      "NULL data_dev: %s", msg(err));
	g_clear_error(&err);
	g_free(data);
	g_free(spare);
}

static void test_assemble_options(const gchar *dir)
{
	gchar *member = g_build_filename(dir, "no-such-member", NULL);
	const gchar *members[] = {member, NULL};
	const gchar *none[] = {NULL};
	const gchar *uuid = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
	const struct {
		const gchar **members;
		const gchar *k1, *v1, *k2, *v2;
		const gchar *expected;
	} cases[] = {
		{members, "block-size", "4096", NULL, NULL, "options: 'block-size' = '4096': unknown key"},
		{members, "degraded", "perhaps", NULL, NULL, "options: 'degraded' = 'perhaps': not a flag"},
		{members, "name", "../x", NULL, NULL, "options: 'name' = '../x': not a valid device name"},
		{none, "uuid", "nope", NULL, NULL, "options: 'uuid' = 'nope': not a set UUID"},
		{members, "uuid", uuid, NULL, NULL,
		 "options: 'uuid' = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d': only for an empty members list"},
		{none, "degraded", "", NULL, NULL, "members: empty, and no 'uuid' option"},
		{NULL, NULL, NULL, NULL, NULL, "members: empty, and no 'uuid' option"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		GError *err = NULL;
		BDExtraArg **a = args(cases[i].k1, cases[i].v1, cases[i].k2, cases[i].v2);
		gchar *name = bd_remap_assemble_full(cases[i].members, (const BDExtraArg **)a, &err);
		expect_inval(name, err, cases[i].expected, i);
		g_clear_error(&err);
		free_args(a);
	}

	/* Good options reach the members, which are missing. */
	GError *err = NULL;
	BDExtraArg **a = args("name", "capi-asm", "degraded", "yes");
	CHECK(bd_remap_assemble_full(members, (const BDExtraArg **)a, &err) == NULL, "assembled a missing member");
	CHECK(g_error_matches(err, BD_REMAP_ERROR, BD_REMAP_ERROR_NOT_FOUND) && strstr(err->message, member),
	      "good options, missing member: %s", msg(err));
	g_clear_error(&err);
	free_args(a);
	/* By UUID: nothing carries it. Without device-mapper that is what the
	 * answer says; with it, no member of the set is found. */
	a = args("uuid", uuid, "degraded", "");
	CHECK(bd_remap_assemble_full(none, (const BDExtraArg **)a, &err) == NULL, "assembled a set nobody has");
	CHECK(err && err->domain == BD_REMAP_ERROR &&
		      (dm_reachable() ? err->code == BD_REMAP_ERROR_NOT_FOUND
				      : err->code == BD_REMAP_ERROR_FAILED && strstr(err->message, "device-mapper")),
	      "by uuid: %d %s", err ? err->code : -1, msg(err));
	g_clear_error(&err);
	free_args(a);
	g_free(member);
}

static int progress_reports;

static void count_report(guint64 task_id, BDUtilsProgStatus status, guint8 completion, gchar *text)
{
	(void)task_id, (void)status, (void)completion, (void)text;
	progress_reports++;
}

/* An evacuation that cannot begin (no such device) reports nothing: a
 * started task would have to be finished. The reports of a running one
 * need the kernel target (test_capi_progress.cpp covers the reporting). */
static void test_progress_without_device(void)
{
	GError *err = NULL;
	REQUIRE(bd_utils_init_prog_reporting(count_report, &err), "init progress reporting: %s", msg(err));
	progress_reports = 0;
	CHECK(!bd_remap_spare_remove("no-such-device-xyz", "/dev/null", TRUE, NULL, NULL, &err),
	      "removed a spare of a missing device");
	CHECK(err && err->domain == BD_REMAP_ERROR &&
		      (err->code == BD_REMAP_ERROR_NOT_FOUND || (err->code == BD_REMAP_ERROR_FAILED && !dm_reachable())),
	      "spare_remove: %s", msg(err));
	g_clear_error(&err);
	CHECK(progress_reports == 0, "%d progress reports for an evacuation that never began", progress_reports);
	bd_utils_init_prog_reporting(NULL, NULL);
}

/* Hand-built structures: a copy keeps every field and shares no memory. */
static void test_boxed(void)
{
	BDRemapSpare sp0 = {"253:1", 1, 256, 4, 252, 4, "ok"};
	BDRemapSpare sp1 = {NULL, 2, 128, -1, -1, 3, "missing"};
	BDRemapSpare *spares[] = {&sp0, &sp1, NULL};

	BDRemapSpare *c = bd_remap_spare_copy(&sp1);
	REQUIRE(c != NULL, "spare copy");
	CHECK(c->device == NULL && c->index == 2 && c->total == 128 && c->used == -1 && c->free == -1 && c->live == 3 &&
		      strcmp(c->state, "missing") == 0 && c->state != sp1.state,
	      "spare copy differs");
	bd_remap_spare_free(c);

	BDRemapDeviceStatus st = {"vol", "REMAP-x", "/dev/dm-3", "degraded", TRUE, 4096, 5, 1, 2, 7, 384, 11, 12, 13,
				  14, FALSE, TRUE, 99, spares};
	BDRemapDeviceStatus *sc = bd_remap_device_status_copy(&st);
	REQUIRE(sc != NULL, "status copy");
	CHECK(strcmp(sc->name, "vol") == 0 && sc->name != st.name && strcmp(sc->uuid, "REMAP-x") == 0 &&
		      strcmp(sc->device, "/dev/dm-3") == 0 && strcmp(sc->state, "degraded") == 0,
	      "status strings differ");
	CHECK(sc->metadata_ok == TRUE && sc->block_size == 4096 && sc->remapped == 5 && sc->pending == 1 &&
		      sc->unavailable == 2 && sc->spare_used == 7 && sc->spare_total == 384 && sc->read_errors == 11 &&
		      sc->write_errors == 12 && sc->remap_events == 13 && sc->healed == 14 && sc->exhausted == FALSE &&
		      sc->degraded == TRUE && sc->seq == 99,
	      "status numbers differ");
	REQUIRE(sc->spares && sc->spares != spares && sc->spares[0] && sc->spares[1] && !sc->spares[2],
		"spares array not copied");
	CHECK(sc->spares[0] != &sp0 && strcmp(sc->spares[0]->device, "253:1") == 0 && sc->spares[0]->used == 4 &&
		      sc->spares[0]->free == 252 && sc->spares[1]->device == NULL && sc->spares[1]->index == 2,
	      "spares differ");

	/* Through the GType, as bindings and GValues do it. */
	const GType t = BD_REMAP_TYPE_DEVICE_STATUS;
	CHECK(G_TYPE_IS_BOXED(t) && strcmp(g_type_name(t), "BDRemapDeviceStatus") == 0, "status GType");
	CHECK(t == bd_remap_device_status_get_type(), "GType not stable");
	BDRemapDeviceStatus *bc = g_boxed_copy(t, sc);
	REQUIRE(bc != NULL && bc != sc, "g_boxed_copy");
	CHECK(strcmp(bc->name, "vol") == 0 && bc->seq == 99 && bc->spares[1] && bc->spares[1]->total == 128 &&
		      bc->spares[0]->state != sc->spares[0]->state,
	      "g_boxed_copy differs");
	bd_remap_device_status_free(sc);
	g_boxed_free(t, bc);

	st.spares = NULL;
	sc = bd_remap_device_status_copy(&st);
	CHECK(sc && sc->spares == NULL, "NULL spares copied as something");
	bd_remap_device_status_free(sc);

	BDRemapEntry e = {1234567890123ULL, FALSE, 3, 77, TRUE};
	BDRemapEntry *ec = bd_remap_entry_copy(&e);
	REQUIRE(ec != NULL && ec != &e, "entry copy");
	CHECK(ec->block == 1234567890123ULL && ec->pending == FALSE && ec->member == 3 && ec->spare_block == 77 &&
		      ec->on_missing == TRUE,
	      "entry copy differs");
	BDRemapEntry *eb = g_boxed_copy(BD_REMAP_TYPE_ENTRY, ec);
	CHECK(eb && eb->block == 1234567890123ULL && eb->spare_block == 77, "entry g_boxed_copy differs");
	bd_remap_entry_free(ec);
	g_boxed_free(BD_REMAP_TYPE_ENTRY, eb);

	BDRemapMember mb = {"/dev/sdb", "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-9999-000000000000",
			    "backup", "spare", 2, 5, "backup"};
	BDRemapMember *mc = bd_remap_member_copy(&mb);
	REQUIRE(mc != NULL, "member copy");
	CHECK(strcmp(mc->devnode, "/dev/sdb") == 0 && mc->devnode != mb.devnode && strcmp(mc->set_uuid, mb.set_uuid) == 0 &&
		      strcmp(mc->member_uuid, mb.member_uuid) == 0 && strcmp(mc->set_name, "backup") == 0 &&
		      strcmp(mc->role, "spare") == 0 && mc->index == 2 && mc->generation == 5 &&
		      strcmp(mc->active, "backup") == 0 && mc->active != mb.active,
	      "member copy differs");
	BDRemapMember *mg = g_boxed_copy(BD_REMAP_TYPE_MEMBER, mc);
	CHECK(mg && mg != mc && strcmp(mg->member_uuid, mb.member_uuid) == 0 && mg->generation == 5, "member boxed copy");
	bd_remap_member_free(mc);
	g_boxed_free(BD_REMAP_TYPE_MEMBER, mg);
	mb.active = NULL;
	mc = bd_remap_member_copy(&mb);
	CHECK(mc && mc->active == NULL, "inactive member copied as active");
	bd_remap_member_free(mc);

	BDRemapSpare *sg = g_boxed_copy(BD_REMAP_TYPE_SPARE, &sp0);
	CHECK(sg && sg->total == 256 && strcmp(sg->device, "253:1") == 0, "spare boxed copy");
	g_boxed_free(BD_REMAP_TYPE_SPARE, sg);

	/* libblockdev's copy/free accept NULL. */
	CHECK(bd_remap_spare_copy(NULL) == NULL && bd_remap_device_status_copy(NULL) == NULL &&
		      bd_remap_entry_copy(NULL) == NULL && bd_remap_member_copy(NULL) == NULL,
	      "copy of NULL");
	bd_remap_spare_free(NULL);
	bd_remap_device_status_free(NULL);
	bd_remap_entry_free(NULL);
	bd_remap_member_free(NULL);
}

int main(void)
{
	gchar *dir = g_dir_make_tmp("capi-XXXXXX", NULL);
	REQUIRE(dir != NULL, "temp dir");

	test_tech();
	test_errors();
	test_list();
	test_find_members();
	test_probe(dir);
	test_boxed();
	test_create_options(dir);
	test_assemble_options(dir);
	test_progress_without_device();

	rmdir(dir);
	g_free(dir);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
