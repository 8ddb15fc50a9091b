/*
 * make_vectors.c - print the protocol test vectors, produced by the C reference encoder
 * (data packets, configuration, commands, and the on-sensor logging messages).
 *
 *   gcc -std=c99 -Wall -Wextra -pedantic -Werror -I ../firmware/xiao_nrf52840_sense/src -o make_vectors make_vectors.c
 *   ./make_vectors > ../vectors/vectors.json
 *
 * The output must equal firmware_protocol/vectors/vectors.json byte for byte, the Python
 * codec and the C decoders (decode_vectors.c) must decode every vector to the values printed
 * beside it, the reference firmware's logic must produce the logging vectors itself
 * (firmware/.../extras/host_test.c), and PROTOCOL.md quotes the same hex
 * (tests/test_c_encoder.py and tests/test_firmware_host.py check all of it).
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
    uint8_t buf[LIP_CONFIG_EXT_SIZE];
    size_t n = lip_encode_config(buf, sizeof buf, c);
    begin(name, "config");
    printf(", \"note\": \"%s\", \"hex\": \"", note);
    print_hex(buf, n);
    printf("\", \"version\": %u, \"state\": %u, \"last_opcode\": %u, \"last_status\": %u, \"rate_mhz\": %lu, "
           "\"acc_range_g\": %u, \"samples_per_packet\": %u, \"gyr_range_dps\": %u, \"acc_scale_ng_per_lsb\": %lu, "
           "\"gyr_scale_udps_per_lsb\": %lu, \"features\": %u, \"log_state\": %u, \"log_sessions\": %u, "
           "\"log_capacity_bytes\": %lu, \"log_free_bytes\": %lu}",
           (unsigned)c->version, (unsigned)c->state, (unsigned)c->last_opcode, (unsigned)c->last_status,
           (unsigned long)c->rate_mhz, (unsigned)c->acc_range_g, (unsigned)c->samples_per_packet,
           (unsigned)c->gyr_range_dps, (unsigned long)c->acc_scale_ng_per_lsb, (unsigned long)c->gyr_scale_udps_per_lsb,
           (unsigned)c->features, (unsigned)c->log_state, (unsigned)c->log_sessions,
           (unsigned long)c->log_capacity_bytes, (unsigned long)c->log_free_bytes);
}

static void command(const char *name, const uint8_t *b, size_t n) {
    lip_command_t c;
    if (lip_parse_command(b, n, &c) != LIP_STATUS_OK) fprintf(stderr, "command %s does not parse\n", name);
    begin(name, "command");
    printf(", \"hex\": \"");
    print_hex(b, n);
    printf("\", \"opcode\": %u, \"rate_hz\": %u, \"acc_range_g\": %u, \"gyr_range_dps\": %u, \"session_id\": %u, "
           "\"offset\": %lu, \"length\": %lu, \"digest\": %lu, \"utc_us\": %llu}",
           (unsigned)c.opcode, (unsigned)c.rate_hz, (unsigned)c.acc_range_g, (unsigned)c.gyr_range_dps,
           (unsigned)c.session_id, (unsigned long)c.offset, (unsigned long)c.length, (unsigned long)c.digest,
           (unsigned long long)c.utc_us);
}

/* ---- on-sensor logging ------------------------------------------------------------------ */
static void log_message(const char *name, const char *kind, const char *note, const uint8_t *b, size_t n) {
    begin(name, kind);
    printf(", \"note\": \"%s\", \"hex\": \"", note);
    print_hex(b, n);
    printf("\"");
}

static void log_entry(const char *name, const char *note, const lip_log_entry_t *e) {
    uint8_t buf[LIP_LOG_ENTRY_SIZE];
    size_t n = lip_encode_log_entry(buf, sizeof buf, e);
    log_message(name, "log_entry", note, buf, n);
    printf(", \"flags\": %u, \"session_id\": %u, \"size_bytes\": %lu, \"start_utc_us\": %llu, "
           "\"clock_set_utc_us\": %llu, \"n_samples\": %lu, \"duration_ms\": %lu, \"rate_mhz\": %lu, "
           "\"acc_scale_ng_per_lsb\": %lu, \"gyr_scale_udps_per_lsb\": %lu, \"gyr_range_dps\": %u, "
           "\"acc_range_g\": %u, \"format\": %u, \"digest\": %lu}",
           (unsigned)e->flags, (unsigned)e->session_id, (unsigned long)e->size_bytes,
           (unsigned long long)e->start_utc_us, (unsigned long long)e->clock_set_utc_us, (unsigned long)e->n_samples,
           (unsigned long)e->duration_ms, (unsigned long)e->rate_mhz, (unsigned long)e->acc_scale_ng_per_lsb,
           (unsigned long)e->gyr_scale_udps_per_lsb, (unsigned)e->gyr_range_dps, (unsigned)e->acc_range_g,
           (unsigned)e->format, (unsigned long)e->digest);
}

static void log_list_end(const char *name, const char *note, const lip_log_list_end_t *m) {
    uint8_t buf[LIP_LOG_LIST_END_SIZE];
    size_t n = lip_encode_log_list_end(buf, sizeof buf, m);
    log_message(name, "log_list_end", note, buf, n);
    printf(", \"n_sessions\": %u, \"capacity_bytes\": %lu, \"free_bytes\": %lu}", (unsigned)m->n_sessions,
           (unsigned long)m->capacity_bytes, (unsigned long)m->free_bytes);
}

static void log_block(const char *name, const char *note, const lip_log_block_t *m) {
    uint8_t buf[LIP_MAX_ATTRIBUTE_SIZE];
    size_t n = lip_encode_log_block(buf, sizeof buf, m);
    log_message(name, "log_block", note, buf, n);
    printf(", \"session_id\": %u, \"seq\": %u, \"offset\": %lu, \"payload\": \"", (unsigned)m->session_id,
           (unsigned)m->seq, (unsigned long)m->offset);
    print_hex(m->payload, m->length);
    printf("\"}");
}

static void log_read_end(const char *name, const char *note, const lip_log_read_end_t *m) {
    uint8_t buf[LIP_LOG_READ_END_SIZE];
    size_t n = lip_encode_log_read_end(buf, sizeof buf, m);
    log_message(name, "log_read_end", note, buf, n);
    printf(", \"session_id\": %u, \"offset\": %lu, \"end\": %lu, \"blocks\": %u}", (unsigned)m->session_id,
           (unsigned long)m->offset, (unsigned long)m->end, (unsigned)m->blocks);
}

static void log_clock(const char *name, const char *note, const lip_log_clock_t *m) {
    uint8_t buf[LIP_LOG_CLOCK_SIZE];
    size_t n = lip_encode_log_clock(buf, sizeof buf, m);
    log_message(name, "log_clock", note, buf, n);
    printf(", \"flags\": %u, \"now_utc_us\": %llu, \"set_utc_us\": %llu}", (unsigned)m->flags,
           (unsigned long long)m->now_utc_us, (unsigned long long)m->set_utc_us);
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
    uint8_t cmd_buf[4], cmd_buf_long[16];
    size_t n;
    int k;

    /* CRC check values of the catalogue */
    begin("crc_check", "crc");
    printf(", \"ascii\": \"123456789\", \"crc\": %u}", (unsigned)lip_crc16((const uint8_t *)"123456789", 9));
    begin("crc32_check", "crc32");
    printf(", \"ascii\": \"123456789\", \"crc\": %lu}",
           (unsigned long)lip_crc32(0, (const uint8_t *)"123456789", 9));

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
        c.features = 0;
        c.log_state = LIP_LOG_STATE_IDLE;
        c.log_sessions = 0;
        c.log_capacity_bytes = 0;
        c.log_free_bytes = 0;
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
    command("command_start", cmd_buf, n);
    n = lip_encode_cmd_stop(cmd_buf);
    command("command_stop", cmd_buf, n);
    n = lip_encode_cmd_set_rate(cmd_buf, 400);
    command("command_set_rate_400", cmd_buf, n);
    n = lip_encode_cmd_set_range(cmd_buf, 16, 2000);
    command("command_set_range_16g_2000dps", cmd_buf, n);

    /* on-sensor logging: one short session of two records (3 and 2 samples at 416 Hz) logged
     * after SET_CLOCK 2024-05-01T07:00:00Z at MCU time 4 s, first sample at 5 s; listed and
     * read at ATT MTU 67 (50 data bytes per block). The reference firmware's logic reproduces
     * every one of these (host_test vectors). */
    {
        const uint64_t utc_set = 1714546800000000ull; /* 2024-05-01T07:00:00Z */
        const uint32_t t0 = 5000000u, period_floor = 1000000000u / 416000u; /* 2403 us */
        uint8_t data[128];
        size_t len0, len1, size;
        lip_config_t c;
        lip_log_entry_t e;
        lip_log_list_end_t le;
        lip_log_block_t blk;
        lip_log_read_end_t re;
        lip_log_clock_t ck;
        /* 2 MiB flash: 2 directory sectors, a ring of 510, one of them kept erased ahead */
        const uint32_t capacity = 509u * 4096u;

        n = lip_encode_cmd_set_clock(cmd_buf_long, utc_set);
        command("command_set_clock", cmd_buf_long, n);
        n = lip_encode_cmd_plain(cmd_buf, LIP_OP_LOG_START);
        command("command_log_start", cmd_buf, n);
        n = lip_encode_cmd_plain(cmd_buf, LIP_OP_LOG_STOP);
        command("command_log_stop", cmd_buf, n);
        n = lip_encode_cmd_plain(cmd_buf, LIP_OP_LOG_LIST);
        command("command_log_list", cmd_buf, n);
        n = lip_encode_cmd_plain(cmd_buf, LIP_OP_GET_CLOCK);
        command("command_get_clock", cmd_buf, n);

        for (k = 0; k < 5; k++) s[k] = make_sample(k);
        len0 = lip_encode_packet(data, sizeof data, LIP_FLAG_STREAM_START, 0, t0, s, 3);
        len1 = lip_encode_packet(data + len0, sizeof data - len0, 0, 1, t0 + 3u * 2404u, s + 3, 2);
        size = len0 + len1;

        c.version = LIP_VERSION;
        c.state = LIP_STATE_IDLE;
        c.last_opcode = LIP_OP_LOG_START;
        c.last_status = LIP_STATUS_OK;
        c.rate_mhz = 416000u;
        c.acc_range_g = 16;
        c.samples_per_packet = (uint8_t)lip_samples_per_packet(67);
        c.gyr_range_dps = 2000;
        c.acc_scale_ng_per_lsb = 488000u;
        c.gyr_scale_udps_per_lsb = 70000u;
        c.features = LIP_FEATURE_LOG;
        c.log_state = LIP_LOG_STATE_LOGGING;
        c.log_sessions = 1;
        c.log_capacity_bytes = capacity;
        c.log_free_bytes = capacity;
        config("config_logging", "logging at 416 Hz after LOG_START (MTU 67), an empty 2 MiB store", &c);
        c.last_opcode = LIP_OP_LOG_STOP;
        c.log_state = LIP_LOG_STATE_IDLE;
        c.log_free_bytes = capacity - 4096u;
        config("config_logged_one_session", "idle after LOG_STOP, one session stored (its sector taken)", &c);

        begin("log_data_two_records", "log_data");
        printf(", \"note\": \"the session's data: two records of 3 and 2 samples\", \"hex\": \"");
        print_hex(data, size);
        printf("\", \"digest\": %lu, \"rate_mhz\": 416000, \"records\": 2", (unsigned long)lip_crc32(0, data, size));
        print_triples("acc", s, 5, 0);
        print_triples("gyr", s, 5, 1);
        printf("}");

        e.flags = LIP_ENTRY_CLOCK_SET;
        e.session_id = 1;
        e.size_bytes = (uint32_t)size;
        e.start_utc_us = utc_set + (t0 - 4000000u);
        e.clock_set_utc_us = utc_set;
        e.n_samples = 5;
        e.duration_ms = ((t0 + 4u * 2404u) - t0 + period_floor + 500u) / 1000u;
        e.rate_mhz = 416000u;
        e.acc_scale_ng_per_lsb = 488000u;
        e.gyr_scale_udps_per_lsb = 70000u;
        e.gyr_range_dps = 2000;
        e.acc_range_g = 16;
        e.format = LIP_LOG_FORMAT_PACKETS;
        e.digest = lip_crc32(0, data, size);
        log_entry("log_entry_session_1", "session 1: 5 samples at 416 Hz, clock set", &e);
        le.n_sessions = 1;
        le.capacity_bytes = capacity;
        le.free_bytes = capacity - 4096u;
        log_list_end("log_list_end", "after the one entry", &le);

        blk.session_id = 1;
        blk.seq = 0;
        blk.offset = 0;
        blk.length = (uint16_t)lip_log_block_payload(67);
        blk.payload = data;
        log_block("log_block_first", "LOG_READ session 1 from 0 at MTU 67: the first block", &blk);
        blk.seq = 1;
        blk.offset = blk.length;
        blk.payload = data + blk.length;
        blk.length = (uint16_t)(size - blk.offset);
        log_block("log_block_last", "the second and last block", &blk);
        re.session_id = 1;
        re.offset = 0;
        re.end = (uint32_t)size;
        re.blocks = 2;
        log_read_end("log_read_end", "after the two blocks", &re);

        n = lip_encode_cmd_log_read(cmd_buf_long, 1, 50, 0);
        command("command_log_read_resume", cmd_buf_long, n);
        n = lip_encode_cmd_log_erase(cmd_buf_long, 1, e.digest);
        command("command_log_erase", cmd_buf_long, n);

        ck.flags = LIP_CLOCK_SET;
        ck.now_utc_us = utc_set + 60000000u;
        ck.set_utc_us = utc_set;
        log_clock("log_clock", "GET_CLOCK one minute after SET_CLOCK", &ck);
    }

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
