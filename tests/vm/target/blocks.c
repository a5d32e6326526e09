// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blocks.py in C, with the same command line, output and patterns: the VM
 * tests call it hundreds of times, and a Python start costs over a second
 * in a TCG guest. blocks.py stays for the Python tools that import its
 * pattern; tests/vm/target/blocks-check.sh keeps the two equal.
 *
 *   blocks write  DEV FIRST COUNT SEED [--bs N] [--sync] [--offset SECTORS]
 *   blocks verify DEV FIRST COUNT SEED [--bs N] [--offset SECTORS]
 *   blocks expect DEV BLOCK:SEED[:OLD]...
 *   blocks pattern SEED BLOCK          (the 32-byte head in hex)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | p[4 * i + 1] << 16 | p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
		       (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (i = 0; i < 64; i++) {
		t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	unsigned char tail[128] = {0};
	size_t full = len / 64 * 64, rest = len - full, n;
	uint64_t bits = (uint64_t)len * 8;
	int i;

	for (size_t off = 0; off < full; off += 64)
		sha256_block(h, (const unsigned char *)data + off);
	memcpy(tail, (const unsigned char *)data + full, rest);
	tail[rest] = 0x80;
	n = rest < 56 ? 64 : 128;
	for (i = 0; i < 8; i++)
		tail[n - 1 - i] = bits >> (8 * i);
	sha256_block(h, tail);
	if (n == 128)
		sha256_block(h, tail + 64);
	for (i = 0; i < 32; i++)
		out[i] = h[i / 4] >> (24 - 8 * (i % 4));
}

/* blocks.py's pattern(): sha256("SEED:BLOCK") repeated; "zero" is zeros. */
static void pattern(unsigned char *buf, size_t bs, long long block, const char *seed)
{
	unsigned char head[32];
	char text[512];
	int len;

	if (!strcmp(seed, "zero")) {
		memset(buf, 0, bs);
		return;
	}
	len = snprintf(text, sizeof(text), "%s:%lld", seed, block);
	sha256(text, (size_t)len, head);
	for (size_t off = 0; off < bs; off += 32)
		memcpy(buf + off, head, bs - off < 32 ? bs - off : 32);
}

static void usage(void)
{
	fprintf(stderr, "usage: blocks write|verify DEV FIRST COUNT SEED [--bs N] [--sync] [--offset SECTORS]\n"
			"       blocks expect DEV BLOCK:SEED[:OLD]...\n"
			"       blocks pattern SEED BLOCK\n");
	exit(2);
}

static long long number(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || !*s || *end || v < 0) {
		fprintf(stderr, "blocks: not a number: '%s'\n", s);
		exit(2);
	}
	return v;
}

static void *block_buffer(size_t bs)
{
	void *buf;

	if (posix_memalign(&buf, 4096, bs)) {
		perror("blocks");
		exit(2);
	}
	return buf;
}

static int do_expect(int argc, char **argv)
{
	const size_t bs = 4096;
	unsigned char *buf = block_buffer(bs), *want = block_buffer(bs), *old = block_buffer(bs);
	int fd = open(argv[0], O_RDONLY | O_DIRECT), failed = 0;

	if (fd < 0) {
		fprintf(stderr, "blocks: %s: %s\n", argv[0], strerror(errno));
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		char item[512], *seed, *olds;
		long long block;

		snprintf(item, sizeof(item), "%s", argv[i]);
		seed = strchr(item, ':');
		if (!seed)
			usage();
		*seed++ = 0;
		olds = strchr(seed, ':');
		if (olds)
			*olds++ = 0;
		block = number(item);
		if (pread(fd, buf, bs, block * (long long)bs) != (ssize_t)bs) {
			if (!olds)
				printf("%s%lld:eio", failed++ ? " " : "", block);
			continue;
		}
		pattern(want, bs, block, seed);
		if (olds)
			pattern(old, bs, block, olds);
		if (memcmp(buf, want, bs) && !(olds && !memcmp(buf, old, bs)))
			printf("%s%lld:mismatch", failed++ ? " " : "", block);
	}
	if (failed)
		printf("\n");
	close(fd);
	return failed ? 1 : 0;
}

/* Prints "LABEL B1 B2 ..." if any. */
static void print_list(const char *label, const long long *v, size_t n)
{
	if (!n)
		return;
	printf("%s", label);
	for (size_t i = 0; i < n; i++)
		printf(" %lld", v[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	long long first, count, bs = 4096, offset = 0, *eio, *bad;
	size_t neio = 0, nbad = 0;
	bool write_op, sync_each = false;
	unsigned char *buf, *want;
	int fd, i;

	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "expect"))
		return argc < 3 ? (usage(), 2) : do_expect(argc - 2, argv + 2);
	if (!strcmp(argv[1], "pattern")) {
		unsigned char head[32];

		if (argc != 4)
			usage();
		pattern(head, sizeof(head), number(argv[3]), argv[2]);
		for (i = 0; i < 32; i++)
			printf("%02x", head[i]);
		printf("\n");
		return 0;
	}
	if (argc < 6 || (strcmp(argv[1], "write") && strcmp(argv[1], "verify")))
		usage();
	write_op = !strcmp(argv[1], "write");
	first = number(argv[3]);
	count = number(argv[4]);
	for (i = 6; i < argc; i++) {
		if (!strcmp(argv[i], "--sync") && write_op)
			sync_each = true;
		else if (!strcmp(argv[i], "--bs") && i + 1 < argc)
			bs = number(argv[++i]);
		else if (!strcmp(argv[i], "--offset") && i + 1 < argc)
			offset = number(argv[++i]);
		else
			usage();
	}
	if (bs < 512 || bs % 512 || bs > (1 << 20))
		usage();
	fd = open(argv[2], (write_op ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "blocks: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	buf = block_buffer((size_t)bs);
	want = block_buffer((size_t)bs);
	eio = calloc((size_t)count + 1, sizeof(*eio));
	bad = calloc((size_t)count + 1, sizeof(*bad));
	if (!eio || !bad) {
		perror("blocks");
		return 2;
	}
	for (long long b = first; b < first + count; b++) {
		off_t pos = b * bs + offset * 512;

		pattern(want, (size_t)bs, b, argv[5]);
		if (write_op) {
			if (pwrite(fd, want, (size_t)bs, pos) != bs || (sync_each && fsync(fd)))
				eio[neio++] = b;
		} else if (pread(fd, buf, (size_t)bs, pos) != bs) {
			eio[neio++] = b;
		} else if (memcmp(buf, want, (size_t)bs)) {
			bad[nbad++] = b;
		}
	}
	close(fd);
	if (write_op) {
		print_list("write-errors", eio, neio);
		return neio ? 1 : 0;
	}
	print_list("eio", eio, neio);
	print_list("MISMATCH", bad, nbad);
	return nbad ? 2 : neio ? 1 : 0;
}
