/*
 * make_vectors.c - print the protocol test vectors, produced by the C reference encoder.
 *
 *   gcc -std=c99 -Wall -Wextra -pedantic -Werror -o make_vectors make_vectors.c
 *   ./make_vectors > ../vectors/vectors.json
 *
 * The output must equal firmware_protocol/vectors/vectors.json byte for byte, the Python
 * codec must decode every vector to the values printed beside it, and PROTOCOL.md quotes the
 * same hex (tests/test_c_encoder.py checks all three).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "lumbar_imu_protocol.h"

static void print_hex(const uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) printf("%02x", p[i]);
}

static void print_triples(const char *key, const lip_sample_t *s, size_t n, int gyro) {
    size_t i;
    printf(", \"%s\": [", key);
    for (i = 0; i < n; i++) {
        const int16_t *v = gyro ? s[i].gyr : s[i].acc;
        printf("%s[%d, %d, %d]", i ? ", " : "", v[0], v[1], v[2]);
    }
    printf("]");
}

static int first = 1;

static void begin(const char *name, const char *kind) {
    printf("%s{\"name\": \"%s\", \"kind\": \"%s\"", first ? "[\n" : ",\n", name, kind);
    first = 0;
}

static void packet(const char *name, const char *note, uint8_t flags, uint16_t seq, uint32_t t_us,
                   const lip_sample_t *s, size_t n) {
    uint8_t buf[LIP_MAX_PACKET_SIZE];
    size_t len = lip_encode_packet(buf, sizeof buf, flags, seq, t_us, s, n);
    if (len == 0) {
        fprintf(stderr, "encoding %s failed\n", name);
        return;
    }
    begin(name, "packet");
    printf(", \"note\": \"%s\", \"hex\": \"", note);
    print_hex(buf, len);
    printf("\", \"flags\": %u, \"seq\": %u, \"t_us\": %lu", (unsigned)flags, (unsigned)seq, (unsigned long)t_us);
    print_triples("acc", s, n, 0);
    print_triples("gyr", s, n, 1);
    printf("}");
}

static void config(const char *name, const char *note, const lip_config_t *c) {
    uint8_t buf[LIP_CONFIG_SIZE];
    lip_encode_config(buf, sizeof buf, c);
    begin(name, "config");
    printf(", \"note\": \"%s\", \"hex\": \"", note);
    print_hex(buf, sizeof buf);
    printf("\", \"version\": %u, \"state\": %u, \"last_opcode\": %u, \"last_status\": %u, \"rate_mhz\": %lu, "
           "\"acc_range_g\": %u, \"samples_per_packet\": %u, \"gyr_range_dps\": %u, \"acc_scale_ng_per_lsb\": %lu, "
           "\"gyr_scale_udps_per_lsb\": %lu}",
           (unsigned)c->version, (unsigned)c->state, (unsigned)c->last_opcode, (unsigned)c->last_status,
           (unsigned long)c->rate_mhz, (unsigned)c->acc_range_g, (unsigned)c->samples_per_packet,
           (unsigned)c->gyr_range_dps, (unsigned long)c->acc_scale_ng_per_lsb, (unsigned long)c->gyr_scale_udps_per_lsb);
}

static void command(const char *name, const uint8_t *b, size_t n, const lip_command_t *c) {
    begin(name, "command");
    printf(", \"hex\": \"");
    print_hex(b, n);
    printf("\", \"opcode\": %u, \"rate_hz\": %u, \"acc_range_g\": %u, \"gyr_range_dps\": %u}", (unsigned)c->opcode,
           (unsigned)c->rate_hz, (unsigned)c->acc_range_g, (unsigned)c->gyr_range_dps);
}

/* A deterministic, varied sample: sample k of a packet. */
static lip_sample_t make_sample(int k) {
    lip_sample_t s;
    s.acc[0] = (int16_t)(k * 1000 - 9000);
    s.acc[1] = (int16_t)(-37 * k);
    s.acc[2] = (int16_t)(2049 + 3 * k);
    s.gyr[0] = (int16_t)(10 * k * k - 500);
    s.gyr[1] = (int16_t)((k % 2 ? -100 : 100) * k);
    s.gyr[2] = (int16_t)(-32768 + 3000 * k);
    return s;
}

int main(void) {
    lip_sample_t s[LIP_MAX_SAMPLES];
    uint8_t cmd_buf[4];
    lip_command_t cmd;
    size_t n;
    int k;

    /* CRC check value of the catalogue */
    begin("crc_check", "crc");
    printf(", \"ascii\": \"123456789\", \"crc\": %u}", (unsigned)lip_crc16((const uint8_t *)"123456789", 9));

    /* 1. one sample at rest: +1 g on z at +-16 g (0.488 mg/LSB), no rotation; first packet */
    memset(s, 0, sizeof s);
    s[0].acc[2] = 2049;
    packet("packet_one_sample", "first packet of a stream, one sample at rest (+1 g on z at 16 g)",
           LIP_FLAG_STREAM_START, 0, 0, s, 1);

    /* 2. extremes of int16 and signs */
    s[0].acc[0] = -32768; s[0].acc[1] = 32767; s[0].acc[2] = -1;
    s[0].gyr[0] = 1;      s[0].gyr[1] = -2;    s[0].gyr[2] = 256;
    s[1].acc[0] = 0x1234; s[1].acc[1] = -0x1234; s[1].acc[2] = 0;
    s[1].gyr[0] = 32767;  s[1].gyr[1] = -32768; s[1].gyr[2] = -256;
    packet("packet_extremes", "two samples with int16 extremes", 0, 1, 2404, s, 2);

    /* 3. a full packet at ATT MTU 247 (19 samples), 416 Hz, sequence about to wrap, overflow flag */
    n = lip_samples_per_packet(247);
    for (k = 0; k < (int)n; k++) s[k] = make_sample(k);
    packet("packet_mtu247_full", "19 samples (the capacity at ATT MTU 247), device overflow flagged",
           LIP_FLAG_OVERFLOW, 65535, 4294967295u, s, n);

    /* 4. the largest packet (41 samples, a 503-byte attribute) */
    for (k = 0; k < (int)LIP_MAX_SAMPLES; k++) s[k] = make_sample(k);
    packet("packet_max", "41 samples, the most one 512-byte attribute holds", 0, 1234, 123456789u, s,
           LIP_MAX_SAMPLES);

    /* configuration: LSM6DS3 (datasheet table 3) at 416 Hz, +-16 g, +-2000 dps, MTU 247 */
    {
        lip_config_t c;
        c.version = LIP_VERSION;
        c.state = LIP_STATE_IDLE;
        c.last_opcode = 0;
        c.last_status = LIP_STATUS_OK;
        c.rate_mhz = 416000u;
        c.acc_range_g = 16;
        c.samples_per_packet = (uint8_t)lip_samples_per_packet(247);
        c.gyr_range_dps = 2000;
        c.acc_scale_ng_per_lsb = 488000u;
        c.gyr_scale_udps_per_lsb = 70000u;
        config("config_416hz_16g_2000dps", "LSM6DS3 at 416 Hz, 16 g, 2000 dps, idle, MTU 247", &c);
        c.state = LIP_STATE_STREAMING;
        c.last_opcode = LIP_OP_SET_RATE;
        c.last_status = LIP_STATUS_OK;
        c.rate_mhz = 104000u;
        c.acc_range_g = 4;
        c.gyr_range_dps = 500;
        c.acc_scale_ng_per_lsb = 122000u;
        c.gyr_scale_udps_per_lsb = 17500u;
        c.samples_per_packet = (uint8_t)lip_samples_per_packet(185);
        config("config_104hz_4g_500dps", "streaming at 104 Hz, 4 g, 500 dps after SET_RATE, MTU 185", &c);
        c.state = LIP_STATE_IDLE;
        c.last_opcode = 0x7F;
        c.last_status = LIP_STATUS_UNKNOWN_OPCODE;
        config("config_after_unknown_opcode", "idle after an unknown opcode 0x7F", &c);
    }

    /* commands */
    n = lip_encode_cmd_start(cmd_buf);
    lip_parse_command(cmd_buf, n, &cmd);
    command("command_start", cmd_buf, n, &cmd);
    n = lip_encode_cmd_stop(cmd_buf);
    lip_parse_command(cmd_buf, n, &cmd);
    command("command_stop", cmd_buf, n, &cmd);
    n = lip_encode_cmd_set_rate(cmd_buf, 400);
    lip_parse_command(cmd_buf, n, &cmd);
    command("command_set_rate_400", cmd_buf, n, &cmd);
    n = lip_encode_cmd_set_range(cmd_buf, 16, 2000);
    lip_parse_command(cmd_buf, n, &cmd);
    command("command_set_range_16g_2000dps", cmd_buf, n, &cmd);

    /* BLE stacks take 128-bit UUIDs least significant byte first */
    {
        const uint8_t u[16] = LIP_UUID128_LE(0x0001);
        begin("service_uuid_le", "uuid");
        printf(", \"uuid\": \"%s\", \"hex\": \"", LIP_SERVICE_UUID);
        print_hex(u, sizeof u);
        printf("\"}");
    }
    printf("\n]\n");
    return 0;
}
