/*
 * host_test.c - exercise the firmware's protocol logic (src/lip_device.h) on the host.
 *
 * Not part of the sketch (Arduino compiles only the sketch folder and src/). Built and run by
 * tests/test_firmware_host.py:
 *
 *   gcc -std=c99 -Wall -Wextra -Werror -I../src -o host_test host_test.c
 *   ./host_test selftest
 *   ./host_test stream RATE_HZ SECONDS ODR_ERROR_PPM ATT_MTU STALL_START_S STALL_S SEED
 *
 * "selftest" checks tables, commands, FIFO assembly, ring buffer and clock, printing one
 * "ok NAME" line per check (exit status 1 and a "FAIL" line on the first failure).
 * "stream" simulates the sensor (its true rate off by ODR_ERROR_PPM), FIFO reads every
 * 8-14 ms, an optional radio stall, and prints what the central would receive:
 *   C <hex>          the configuration characteristic after START
 *   T <t0_us> <period_us>   truth: time of sample 0 (extended MCU us) and the true period
 *   P <hex>          one data packet per line
 * Sample i carries its index: acc x = i & 0x7fff, acc y = i >> 15, acc z = 2049,
 * gyr = (-(i & 0x7fff), 7, -7).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lip_device.h"

static int failures = 0;

#define CHECK(name, cond)                                                     \
    do {                                                                      \
        if (cond) {                                                           \
            printf("ok %s\n", name);                                          \
        } else {                                                              \
            printf("FAIL %s (%s:%d: %s)\n", name, __FILE__, __LINE__, #cond); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

static lip_device_t dev; /* 8+ KiB: static, as on the device */

static uint8_t cmd(const uint8_t *b, size_t n) { return lip_device_command(&dev, b, n); }

static void selftest(void) {
    uint8_t b[8], out[LIP_MAX_PACKET_SIZE], act;
    lip_sample_t s[12];
    lip_fifo_t f;
    uint32_t stamps[64];
    size_t n, i;

    /* tables */
    CHECK("rate 100 -> 104 Hz", lip_pick_rate(100) == 0);
    CHECK("rate 104 -> 104 Hz", lip_pick_rate(104) == 0);
    CHECK("rate 200 -> 208 Hz", lip_pick_rate(200) == 1);
    CHECK("rate 400 -> 416 Hz", lip_pick_rate(400) == 2);
    CHECK("rate 800 -> 833 Hz", lip_pick_rate(800) == 3);
    CHECK("rate 900 unsupported", lip_pick_rate(900) == -1);
    CHECK("rate 0 unsupported", lip_pick_rate(0) == -1);
    CHECK("acc 3 g -> 4 g", lip_pick_range(LIP_LSM6DS3_ACC_RANGES, LIP_LSM6DS3_N_ACC, 3) == 1);
    CHECK("acc 17 g unsupported", lip_pick_range(LIP_LSM6DS3_ACC_RANGES, LIP_LSM6DS3_N_ACC, 17) == -1);
    CHECK("gyr 250 dps -> 245 dps", LIP_LSM6DS3_GYR_RANGES[lip_pick_range(LIP_LSM6DS3_GYR_RANGES, LIP_LSM6DS3_N_GYR, 250)].range == 245);

    /* commands */
    lip_device_init(&dev);
    CHECK("defaults 416 Hz 16 g 2000 dps", dev.cfg.rate_mhz == 416000u && dev.cfg.acc_range_g == 16 && dev.cfg.gyr_range_dps == 2000);
    act = cmd((const uint8_t *)"\x01", 1);
    CHECK("start at MTU 23 refused", dev.cfg.last_status == LIP_STATUS_MTU_TOO_SMALL && dev.cfg.state == LIP_STATE_IDLE &&
                                         act == LIP_ACT_CONFIG_CHANGED);
    lip_device_set_mtu(&dev, 247);
    CHECK("MTU 247 -> 19 samples per packet", dev.cfg.samples_per_packet == 19);
    act = cmd((const uint8_t *)"\x01", 1);
    CHECK("start", dev.cfg.last_status == LIP_STATUS_OK && dev.cfg.state == LIP_STATE_STREAMING &&
                       (act & LIP_ACT_SENSOR_START) && dev.next_flags == LIP_FLAG_STREAM_START);
    act = cmd((const uint8_t *)"\x09", 1);
    CHECK("unknown opcode", dev.cfg.last_status == LIP_STATUS_UNKNOWN_OPCODE && dev.cfg.last_opcode == 9 &&
                                dev.cfg.state == LIP_STATE_STREAMING);
    act = cmd((const uint8_t *)"\x01\x00", 2);
    CHECK("start with an argument: bad length", dev.cfg.last_status == LIP_STATUS_BAD_LENGTH);
    act = cmd((const uint8_t *)"", 0);
    CHECK("empty write: bad length", dev.cfg.last_status == LIP_STATUS_BAD_LENGTH);
    n = lip_encode_cmd_set_rate(b, 1000);
    act = cmd(b, n);
    CHECK("set rate 1000 Hz refused", dev.cfg.last_status == LIP_STATUS_BAD_ARGUMENT && dev.cfg.rate_mhz == 416000u);
    n = lip_encode_cmd_set_rate(b, 100);
    act = cmd(b, n);
    CHECK("set rate 100 while streaming restarts the stream", dev.cfg.last_status == LIP_STATUS_OK &&
                                                                  dev.cfg.rate_mhz == 104000u &&
                                                                  (act & LIP_ACT_SENSOR_RECONFIGURE) &&
                                                                  dev.next_flags == LIP_FLAG_STREAM_START && dev.seq == 0);
    n = lip_encode_cmd_set_range(b, 4, 500);
    act = cmd(b, n);
    CHECK("set range 4 g 500 dps", dev.cfg.acc_range_g == 4 && dev.cfg.acc_scale_ng_per_lsb == 122000u &&
                                       dev.cfg.gyr_range_dps == 500 && dev.cfg.gyr_scale_udps_per_lsb == 17500u);
    n = lip_encode_cmd_set_range(b, 4, 0);
    act = cmd(b, n);
    CHECK("set range with 0 dps refused", dev.cfg.last_status == LIP_STATUS_BAD_ARGUMENT && dev.cfg.gyr_range_dps == 500);
    act = cmd((const uint8_t *)"\x02", 1);
    CHECK("stop", dev.cfg.state == LIP_STATE_IDLE && (act & LIP_ACT_SENSOR_STOP));
    act = cmd((const uint8_t *)"\x02", 1);
    CHECK("stop when idle: no sensor action", dev.cfg.state == LIP_STATE_IDLE && act == LIP_ACT_CONFIG_CHANGED);
    n = lip_device_config_value(&dev, out, sizeof out);
    CHECK("config value is 20 bytes, version 1", n == LIP_CONFIG_SIZE && out[0] == 1 && out[2] == LIP_OP_STOP);

    /* FIFO assembly: pattern Gx Gy Gz XLx XLy XLz, resync on a pattern mismatch */
    lip_fifo_init(&f);
    {
        uint8_t words[2 * 14];
        for (i = 0; i < 14; i++) lip_put_u16(words + 2 * i, (uint16_t)(100 + i));
        n = lip_fifo_feed(&f, 0, words, sizeof words, s, 12);
        CHECK("fifo: 14 words -> 2 samples", n == 2 && s[0].gyr[0] == 100 && s[0].acc[2] == 105 && s[1].gyr[0] == 106);
        CHECK("fifo: 2 words pending", f.pos == 2);
        n = lip_fifo_feed(&f, 2, words, 8, s, 12);
        CHECK("fifo: continues a partial sample", n == 1 && s[0].gyr[0] == 112 && s[0].gyr[2] == 100 && s[0].acc[2] == 103);
        n = lip_fifo_feed(&f, 3, words, 6, s, 12);
        CHECK("fifo: resync to the reported pattern", n == 1 && f.pos == 0 && s[0].acc[0] == 100);
    }

    /* ring buffer: drops the oldest when full */
    lip_device_init(&dev);
    lip_device_set_mtu(&dev, 247);
    cmd((const uint8_t *)"\x01", 1);
    memset(s, 0, sizeof s);
    for (i = 0; i < LIP_RING_CAPACITY + 5u; i++) {
        s[0].acc[0] = (int16_t)i;
        lip_device_push(&dev, (uint32_t)(i * 2404u), &s[0]);
    }
    CHECK("ring full: oldest dropped", dev.ring.count == LIP_RING_CAPACITY && lip_ring_at(&dev.ring, 0)->acc[0] == 5 &&
                                           (dev.next_flags & LIP_FLAG_OVERFLOW));
    n = lip_device_peek(&dev, out, sizeof out, 0);
    CHECK("peek: first packet flagged start + overflow", n == lip_packet_size(19) && out[1] == 3 && out[2] == 0);
    n = lip_device_peek(&dev, out, sizeof out, 0);
    CHECK("peek again without commit: same packet", n == lip_packet_size(19) && out[2] == 0);
    lip_device_commit(&dev);
    n = lip_device_peek(&dev, out, sizeof out, 0);
    CHECK("after commit: next sequence, flags cleared", out[1] == 0 && out[2] == 1 && dev.ring.count == LIP_RING_CAPACITY - 19u);
    lip_device_commit(&dev);
    while (lip_device_peek(&dev, out, sizeof out, 0)) lip_device_commit(&dev);
    CHECK("partial packet waits", dev.ring.count == (LIP_RING_CAPACITY - 38u) % 19u && dev.ring.count > 0);
    n = lip_device_peek(&dev, out, sizeof out, 1);
    CHECK("forced partial packet", n == lip_packet_size(dev.ring.count));
    lip_device_disconnected(&dev);
    CHECK("disconnect: idle, MTU 23", dev.cfg.state == LIP_STATE_IDLE && dev.att_mtu == 23);

    /* clock: a sensor 1 % fast, read every 10 ms */
    {
        lip_clock_t c;
        double p_true = 1e6 / (416.0 * 1.01), worst = 0;
        uint32_t now;
        long taken = 0, k;
        lip_clock_init(&c, 416000u);
        for (k = 1; k <= 1000; k++) {
            long avail;
            now = (uint32_t)(4294000000u + (uint32_t)k * 10000u); /* wraps the MCU counter */
            avail = (long)((double)k * 10000.0 / p_true) + 1 - taken;
            if (avail <= 0) continue;
            lip_clock_stamp(&c, now, (size_t)avail, 0, stamps);
            if (k > 300) {
                long j;
                for (j = 0; j < avail; j++) {
                    double truth = (double)(taken + j) * p_true; /* since 4294000000 */
                    double got = (double)(uint32_t)(stamps[j] - 4294000000u);
                    double e = got - truth;
                    if (e < 0) e = -e;
                    if (e > worst) worst = e;
                }
            }
            taken += avail;
        }
        printf("clock worst error %.1f us, period %.3f us (true %.3f)\n", worst, (double)c.period_q8 / 256.0, p_true);
        CHECK("clock locks to a 1 % fast sensor within half a period", worst < p_true / 2);
        CHECK("clock learns the period within 0.1 %", (double)c.period_q8 / 256.0 > p_true * 0.999 &&
                                                         (double)c.period_q8 / 256.0 < p_true * 1.001);
    }
}

/* ---- stream simulation ---------------------------------------------------------------- */
static uint32_t lcg_state = 1;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

static void print_hex(const char *tag, const uint8_t *p, size_t n) {
    size_t i;
    printf("%s ", tag);
    for (i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
}

#define FIFO_SAMPLES 341u /* 4 KiB FIFO = 2048 words = 341 six-word samples */

static int stream(int argc, char **argv) {
    unsigned rate_hz, mtu;
    double seconds, ppm, stall_start, stall_len, p_true;
    uint8_t b[8], out[LIP_MAX_PACKET_SIZE];
    uint8_t words[LIP_FIFO_CHUNK_SAMPLES * 12u];
    long produced = 0, read = 0, total;
    int64_t now_ext;
    const int64_t start = 4294967295LL - 3000000LL; /* the MCU counter wraps 3 s in */
    size_t n;
    int overrun = 0;

    if (argc != 9) {
        fprintf(stderr, "usage: host_test stream RATE_HZ SECONDS ODR_ERROR_PPM ATT_MTU STALL_START_S STALL_S SEED\n");
        return 2;
    }
    rate_hz = (unsigned)atoi(argv[2]);
    seconds = atof(argv[3]);
    ppm = atof(argv[4]);
    mtu = (unsigned)atoi(argv[5]);
    stall_start = atof(argv[6]);
    stall_len = atof(argv[7]);
    lcg_state = (uint32_t)atoi(argv[8]) + 1u;

    lip_device_init(&dev);
    lip_device_set_mtu(&dev, (uint16_t)mtu);
    n = lip_encode_cmd_set_rate(b, (uint16_t)rate_hz);
    lip_device_command(&dev, b, n);
    lip_device_command(&dev, (const uint8_t *)"\x01", 1);
    if (dev.cfg.state != LIP_STATE_STREAMING) {
        fprintf(stderr, "device did not start: status %u\n", (unsigned)dev.cfg.last_status);
        return 1;
    }
    n = lip_device_config_value(&dev, out, sizeof out);
    print_hex("C", out, n);
    p_true = 1e9 / (double)dev.cfg.rate_mhz / (1.0 + ppm * 1e-6);
    /* sample i is taken at start + 1000 + i * p_true (extended MCU microseconds) */
    printf("T %.3f %.6f\n", (double)(start + 1000), p_true);
    total = (long)(seconds * 1e6 / p_true);

    now_ext = start;
    while (read < total) {
        long avail, unread;
        int stalled;
        now_ext += 8000 + (int64_t)(lcg() % 6000u); /* the loop runs every 8-14 ms */
        avail = (long)((double)(now_ext - start - 1000) / p_true) + 1;
        if (avail > total) avail = total;
        produced = avail;
        unread = produced - read;
        if (unread > (long)FIFO_SAMPLES) { /* continuous mode: the FIFO overwrites the oldest */
            read = produced - (long)FIFO_SAMPLES;
            unread = (long)FIFO_SAMPLES;
            overrun = 1;
        }
        while (unread > 0) {
            long k = unread > (long)LIP_FIFO_CHUNK_SAMPLES ? (long)LIP_FIFO_CHUNK_SAMPLES : unread, j;
            for (j = 0; j < k; j++) {
                long i = read + j;
                int16_t w[6];
                int q;
                w[0] = (int16_t)(-(i & 0x7fff));
                w[1] = 7;
                w[2] = -7;
                w[3] = (int16_t)(i & 0x7fff);
                w[4] = (int16_t)(i >> 15);
                w[5] = 2049;
                for (q = 0; q < 6; q++) lip_put_u16(words + 12 * j + 2 * q, (uint16_t)w[q]);
            }
            lip_device_fifo_data(&dev, (uint32_t)(uint64_t)now_ext, 0, words, (size_t)k * 12u, (size_t)(unread - k),
                                 overrun);
            overrun = 0;
            read += k;
            unread -= k;
        }
        stalled = (double)(now_ext - start) > stall_start * 1e6 && (double)(now_ext - start) < (stall_start + stall_len) * 1e6;
        while (!stalled && (n = lip_device_peek(&dev, out, sizeof out, 0)) > 0u) {
            print_hex("P", out, n);
            lip_device_commit(&dev);
        }
    }
    while ((n = lip_device_peek(&dev, out, sizeof out, 1)) > 0u) {
        print_hex("P", out, n);
        lip_device_commit(&dev);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "selftest") == 0) {
        selftest();
        if (failures) return 1;
        printf("all ok\n");
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "stream") == 0) return stream(argc, argv);
    fprintf(stderr, "usage: host_test selftest | stream ...\n");
    return 2;
}
