// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libbd_remap's C API on real devices, in a VM kernel with the target
 * (tests/vm/target/capi.sh): bd_remap_create_full and bd_remap_assemble_full
 * with options, and an evacuating bd_remap_spare_remove reporting progress
 * through libblockdev's utils, as a consumer sees them.
 *
 *   test-capi-vm DATA SPARE1 SPARE2   (null_blk disks, 4 KiB blocks)
 */
#include <bd_remap.h>

#include <blockdev/utils.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define UUID "5d0c2e8a-7b1f-4c3e-9a6d-2f8e1b4c7a90"
#define INTERNAL 256 /* blocks in the 1 MiB internal spare */
#define ON_SPARE1 40 /* blocks that first fit puts on SPARE1 */

static int failures;

#define CHECK(cond, ...)                                                                                              \
    do {                                                                                                              \
        if (!(cond)) {                                                                                                \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                         \
            fprintf(stderr, __VA_ARGS__);                                                                             \
            fputc('\n', stderr);                                                                                      \
            failures++;                                                                                               \
        }                                                                                                             \
    } while (0)

static void must(gboolean ok, GError *error, const char *what)
{
    if (!ok) {
        fprintf(stderr, "FAIL: %s: %s\n", what, error ? error->message : "no error set");
        exit(1);
    }
}

/* What libblockdev's progress reporting delivered, in order. */
static struct {
    int started, finished, progress;
    int last, decreased;
    char finished_msg[256];
} seen;

static void record(guint64 task_id, BDUtilsProgStatus status, guint8 completion, gchar *msg)
{
    (void)task_id;
    if (status == BD_UTILS_PROG_STARTED) {
        seen.started++;
    } else if (status == BD_UTILS_PROG_PROGRESS) {
        seen.progress++;
        if (completion < seen.last)
            seen.decreased = 1;
        seen.last = completion;
    } else if (status == BD_UTILS_PROG_FINISHED) {
        seen.finished++;
        snprintf(seen.finished_msg, sizeof seen.finished_msg, "%s", msg ? msg : "");
    }
}

static BDRemapDeviceStatus *status_of(const char *name)
{
    GError *error = NULL;
    BDRemapDeviceStatus *st = bd_remap_status(name, &error);
    must(st != NULL, error, name);
    return st;
}

/* Live blocks on the member DEV (a path; the status names members by
 * major:minor, NULL when missing); G_MAXUINT64 when it is no member. */
static guint64 live_on(BDRemapDeviceStatus *st, const char *dev)
{
    struct stat want;
    if (stat(dev, &want) != 0)
        return G_MAXUINT64;
    gchar *majmin = g_strdup_printf("%u:%u", major(want.st_rdev), minor(want.st_rdev));
    guint64 live = G_MAXUINT64;
    for (BDRemapSpare **s = st->spares; *s; s++)
        if ((*s)->device && strcmp((*s)->device, majmin) == 0)
            live = (*s)->live;
    g_free(majmin);
    return live;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s DATA SPARE1 SPARE2\n", argv[0]);
        return 2;
    }
    const char *data = argv[1], *spare1 = argv[2], *spare2 = argv[3];
    GError *error = NULL;

    /* 1. Create with options: name, block size, UUID, capacity, internal spare. */
    const BDExtraArg o_name = {"name", "capi"}, o_bs = {"block-size", "4096"}, o_uuid = {"uuid", UUID},
                     o_max = {"max-remaps", "4096"}, o_int = {"internal-spare", "1048576"};
    const BDExtraArg *create_opts[] = {&o_name, &o_bs, &o_uuid, &o_max, &o_int, NULL};
    const gchar *spares[] = {spare1, NULL};
    gchar *name = bd_remap_create_full(data, spares, create_opts, &error);
    must(name != NULL, error, "bd_remap_create_full");
    CHECK(strcmp(name, "capi") == 0, "name %s", name);
    g_free(name);
    BDRemapDeviceStatus *st = status_of("capi");
    CHECK(st->block_size == 4096, "block size %u", st->block_size);
    CHECK(strcmp(st->uuid, "REMAP-" UUID) == 0, "dm uuid %s", st->uuid);
    CHECK(st->spare_total > INTERNAL, "spare total %" G_GUINT64_FORMAT, st->spare_total);
    bd_remap_device_status_free(st);

    /* 2. Fill the internal spare, then put ON_SPARE1 blocks on SPARE1. */
    for (guint64 b = 0; b < INTERNAL + ON_SPARE1; b++) {
        gboolean pending = TRUE;
        must(bd_remap_remap_block("capi", b, &pending, &error), error, "bd_remap_remap_block");
        CHECK(!pending, "block %" G_GUINT64_FORMAT " pending", b);
    }
    must(bd_remap_spare_add("capi", spare2, FALSE, &error), error, "bd_remap_spare_add");
    st = status_of("capi");
    guint64 on1 = live_on(st, spare1);
    bd_remap_device_status_free(st);
    CHECK(on1 == ON_SPARE1, "live on %s: %" G_GUINT64_FORMAT, spare1, on1);

    /* 3. Evacuate SPARE1: progress started, growing to 100, finished. */
    must(bd_utils_init_prog_reporting(record, &error), error, "bd_utils_init_prog_reporting");
    guint64 moved = 0, lost = 99;
    must(bd_remap_spare_remove("capi", spare1, TRUE, &moved, &lost, &error), error, "bd_remap_spare_remove");
    CHECK(moved == ON_SPARE1 && lost == 0, "moved %" G_GUINT64_FORMAT " lost %" G_GUINT64_FORMAT, moved, lost);
    CHECK(seen.started == 1 && seen.finished == 1, "started %d finished %d", seen.started, seen.finished);
    CHECK(seen.progress >= 1 && seen.last == 100 && !seen.decreased, "%d reports, last %d, decreased %d",
          seen.progress, seen.last, seen.decreased);
    CHECK(strcmp(seen.finished_msg, "Completed") == 0, "finished with '%s'", seen.finished_msg);
    printf("evacuation: moved %" G_GUINT64_FORMAT ", %d progress reports, last %d%%\n", moved, seen.progress,
           seen.last);
    st = status_of("capi");
    CHECK(live_on(st, spare2) == ON_SPARE1, "live on %s: %" G_GUINT64_FORMAT, spare2, live_on(st, spare2));
    CHECK(live_on(st, spare1) == G_MAXUINT64, "%s still a member", spare1);
    bd_remap_device_status_free(st);
    must(bd_remap_stop("capi", &error), error, "bd_remap_stop");

    /* 4. Assemble with a name of our choosing, by member. */
    const BDExtraArg o_name2 = {"name", "capi2"};
    const BDExtraArg *assemble_opts[] = {&o_name2, NULL};
    const gchar *members[] = {data, NULL};
    name = bd_remap_assemble_full(members, assemble_opts, &error);
    must(name != NULL, error, "bd_remap_assemble_full (name)");
    CHECK(strcmp(name, "capi2") == 0, "assembled as %s", name);
    g_free(name);
    st = status_of("capi2");
    CHECK(st->remapped == INTERNAL + ON_SPARE1, "remapped %" G_GUINT64_FORMAT, st->remapped);
    bd_remap_device_status_free(st);
    must(bd_remap_stop("capi2", &error), error, "bd_remap_stop");

    /* 5. By UUID: SPARE2 wiped is missing; refused, then started degraded. */
    gchar *cmd = g_strdup_printf("dd if=/dev/zero of=%s bs=1M count=$(($(blockdev --getsize64 %s) / 1048576)) "
                                 "oflag=direct status=none",
                                 spare2, spare2);
    CHECK(system(cmd) == 0, "%s", cmd);
    g_free(cmd);
    const BDExtraArg *uuid_opts[] = {&o_uuid, NULL};
    name = bd_remap_assemble_full(NULL, uuid_opts, &error);
    CHECK(name == NULL && error != NULL, "assembled without a spare and without 'degraded'");
    if (error)
        printf("without degraded: %s\n", error->message);
    g_clear_error(&error);
    g_free(name);
    const BDExtraArg o_degraded = {"degraded", ""};
    const BDExtraArg *degraded_opts[] = {&o_uuid, &o_degraded, NULL};
    name = bd_remap_assemble_full(NULL, degraded_opts, &error);
    must(name != NULL, error, "bd_remap_assemble_full (uuid, degraded)");
    st = status_of(name);
    CHECK(st->degraded, "not degraded");
    CHECK(st->unavailable == ON_SPARE1, "unavailable %" G_GUINT64_FORMAT, st->unavailable);
    bd_remap_device_status_free(st);
    must(bd_remap_stop(name, &error), error, "bd_remap_stop");
    g_free(name);

    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("capi: create/assemble options and evacuation progress on real devices\n");
    return 0;
}
