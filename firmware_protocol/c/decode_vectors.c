/*
 * decode_vectors.c - decode protocol messages with the C reference decoders (host side).
 *
 *   gcc -std=c99 -Wall -Wextra -pedantic -Werror -I ../firmware/xiao_nrf52840_sense/src -o decode_vectors decode_vectors.c
 *   ./decode_vectors < lines        # each line: KIND HEX
 *
 * KIND is a vector kind of vectors/vectors.json (packet, config, command, log_entry,
 * log_list_end, log_block, log_read_end, log_clock, log_data); for each line it prints one
 * JSON object with the decoded fields under the same names as the vectors file, or
 * {"error": CODE} (LIP_DECODE_*, or the command status). tests/test_c_encoder.py feeds it every
 * vector and compares. log_data: the records of a session's data, checked with
 * lip_check_packet one by one, and its CRC-32.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "lumbar_imu_protocol.h"

#define MAX_BYTES 4096

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = 0;
    unsigned v;
    while (hex[0] && hex[1] && n < cap && sscanf(hex, "%2x", &v) == 1) {
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static void print_hex(const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) printf("%02x", p[i]);
}

static void triples(const char *key, const lip_sample_t *s, size_t n, int gyro) {
    size_t i;
    printf(", \"%s\": [", key);
    for (i = 0; i < n; i++) {
        const int16_t *v = gyro ? s[i].gyr : s[i].acc;
        printf("%s[%d, %d, %d]", i ? ", " : "", v[0], v[1], v[2]);
    }
    printf("]");
}

static void packet(const uint8_t *b, size_t n) {
    lip_sample_t s[LIP_MAX_SAMPLES];
    uint8_t flags;
    uint16_t seq;
    uint32_t t_us;
    size_t k;
    int r = lip_decode_packet(b, n, &flags, &seq, &t_us, s, LIP_MAX_SAMPLES, &k);
    if (r != LIP_DECODE_OK) {
        printf("{\"error\": %d}\n", r);
        return;
    }
    printf("{\"flags\": %u, \"seq\": %u, \"t_us\": %lu", (unsigned)flags, (unsigned)seq, (unsigned long)t_us);
    triples("acc", s, k, 0);
    triples("gyr", s, k, 1);
    printf("}\n");
}

static void config(const uint8_t *b, size_t n) {
    lip_config_t c;
    int r = lip_decode_config(b, n, &c);
    if (r != LIP_DECODE_OK) {
        printf("{\"error\": %d}\n", r);
        return;
    }
    printf("{\"version\": %u, \"state\": %u, \"last_opcode\": %u, \"last_status\": %u, \"rate_mhz\": %lu, "
           "\"acc_range_g\": %u, \"samples_per_packet\": %u, \"gyr_range_dps\": %u, \"acc_scale_ng_per_lsb\": %lu, "
           "\"gyr_scale_udps_per_lsb\": %lu, \"features\": %u, \"log_state\": %u, \"log_sessions\": %u, "
           "\"log_capacity_bytes\": %lu, \"log_free_bytes\": %lu}\n",
           (unsigned)c.version, (unsigned)c.state, (unsigned)c.last_opcode, (unsigned)c.last_status,
           (unsigned long)c.rate_mhz, (unsigned)c.acc_range_g, (unsigned)c.samples_per_packet,
           (unsigned)c.gyr_range_dps, (unsigned long)c.acc_scale_ng_per_lsb, (unsigned long)c.gyr_scale_udps_per_lsb,
           (unsigned)c.features, (unsigned)c.log_state, (unsigned)c.log_sessions,
           (unsigned long)c.log_capacity_bytes, (unsigned long)c.log_free_bytes);
}

static void command(const uint8_t *b, size_t n) {
    lip_command_t c;
    uint8_t st = lip_parse_command(b, n, &c);
    if (st != LIP_STATUS_OK) {
        printf("{\"error\": %u}\n", (unsigned)st);
        return;
    }
    printf("{\"opcode\": %u, \"rate_hz\": %u, \"acc_range_g\": %u, \"gyr_range_dps\": %u, \"session_id\": %u, "
           "\"offset\": %lu, \"length\": %lu, \"digest\": %lu, \"utc_us\": %llu}\n",
           (unsigned)c.opcode, (unsigned)c.rate_hz, (unsigned)c.acc_range_g, (unsigned)c.gyr_range_dps,
           (unsigned)c.session_id, (unsigned long)c.offset, (unsigned long)c.length, (unsigned long)c.digest,
           (unsigned long long)c.utc_us);
}

static void log_data(const uint8_t *b, size_t n) {
    lip_sample_t s[LIP_MAX_SAMPLES], all[256];
    size_t pos = 0, total = 0, records = 0, k, i;
    uint8_t flags;
    uint16_t seq;
    uint32_t t_us;
    while (pos < n) {
        size_t left = n - pos, want = left > 8u ? lip_packet_size(b[pos + 8]) : left;
        int r = lip_decode_packet(b + pos, want < left ? want : left, &flags, &seq, &t_us, s, LIP_MAX_SAMPLES, &k);
        if (r != LIP_DECODE_OK || seq != records) {
            printf("{\"error\": %d}\n", r == LIP_DECODE_OK ? LIP_DECODE_CORRUPT : r);
            return;
        }
        for (i = 0; i < k && total < 256u; i++) all[total++] = s[i];
        pos += lip_packet_size(k);
        records++;
    }
    printf("{\"digest\": %lu, \"records\": %lu", (unsigned long)lip_crc32(0, b, n), (unsigned long)records);
    triples("acc", all, total, 0);
    triples("gyr", all, total, 1);
    printf("}\n");
}

int main(void) {
    static char line[2 * MAX_BYTES + 64];
    static uint8_t b[MAX_BYTES];
    char kind[32], hex[2 * MAX_BYTES + 1];
    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t n;
        if (sscanf(line, "%31s %8192s", kind, hex) != 2) continue;
        n = unhex(hex, b, sizeof b);
        if (strcmp(kind, "packet") == 0) {
            packet(b, n);
        } else if (strcmp(kind, "config") == 0) {
            config(b, n);
        } else if (strcmp(kind, "command") == 0) {
            command(b, n);
        } else if (strcmp(kind, "log_data") == 0) {
            log_data(b, n);
        } else if (strcmp(kind, "log_entry") == 0) {
            lip_log_entry_t e;
            int r = lip_decode_log_entry(b, n, &e);
            if (r != LIP_DECODE_OK) {
                printf("{\"error\": %d}\n", r);
                continue;
            }
            printf("{\"flags\": %u, \"session_id\": %u, \"size_bytes\": %lu, \"start_utc_us\": %llu, "
                   "\"clock_set_utc_us\": %llu, \"n_samples\": %lu, \"duration_ms\": %lu, \"rate_mhz\": %lu, "
                   "\"acc_scale_ng_per_lsb\": %lu, \"gyr_scale_udps_per_lsb\": %lu, \"gyr_range_dps\": %u, "
                   "\"acc_range_g\": %u, \"format\": %u, \"digest\": %lu}\n",
                   (unsigned)e.flags, (unsigned)e.session_id, (unsigned long)e.size_bytes,
                   (unsigned long long)e.start_utc_us, (unsigned long long)e.clock_set_utc_us,
                   (unsigned long)e.n_samples, (unsigned long)e.duration_ms, (unsigned long)e.rate_mhz,
                   (unsigned long)e.acc_scale_ng_per_lsb, (unsigned long)e.gyr_scale_udps_per_lsb,
                   (unsigned)e.gyr_range_dps, (unsigned)e.acc_range_g, (unsigned)e.format, (unsigned long)e.digest);
        } else if (strcmp(kind, "log_list_end") == 0) {
            lip_log_list_end_t m;
            int r = lip_decode_log_list_end(b, n, &m);
            if (r != LIP_DECODE_OK) {
                printf("{\"error\": %d}\n", r);
                continue;
            }
            printf("{\"n_sessions\": %u, \"capacity_bytes\": %lu, \"free_bytes\": %lu}\n", (unsigned)m.n_sessions,
                   (unsigned long)m.capacity_bytes, (unsigned long)m.free_bytes);
        } else if (strcmp(kind, "log_block") == 0) {
            lip_log_block_t m;
            int r = lip_decode_log_block(b, n, &m);
            if (r != LIP_DECODE_OK) {
                printf("{\"error\": %d}\n", r);
                continue;
            }
            printf("{\"session_id\": %u, \"seq\": %u, \"offset\": %lu, \"payload\": \"", (unsigned)m.session_id,
                   (unsigned)m.seq, (unsigned long)m.offset);
            print_hex(m.payload, m.length);
            printf("\"}\n");
        } else if (strcmp(kind, "log_read_end") == 0) {
            lip_log_read_end_t m;
            int r = lip_decode_log_read_end(b, n, &m);
            if (r != LIP_DECODE_OK) {
                printf("{\"error\": %d}\n", r);
                continue;
            }
            printf("{\"session_id\": %u, \"offset\": %lu, \"end\": %lu, \"blocks\": %u}\n", (unsigned)m.session_id,
                   (unsigned long)m.offset, (unsigned long)m.end, (unsigned)m.blocks);
        } else if (strcmp(kind, "log_clock") == 0) {
            lip_log_clock_t m;
            int r = lip_decode_log_clock(b, n, &m);
            if (r != LIP_DECODE_OK) {
                printf("{\"error\": %d}\n", r);
                continue;
            }
            printf("{\"flags\": %u, \"now_utc_us\": %llu, \"set_utc_us\": %llu}\n", (unsigned)m.flags,
                   (unsigned long long)m.now_utc_us, (unsigned long long)m.set_utc_us);
        } else {
            printf("{\"error\": -1}\n");
        }
    }
    return 0;
}
