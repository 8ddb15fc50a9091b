/*
 * Lumbar IMU reference firmware for the Seeed XIAO nRF52840 Sense (LSM6DS3TR-C IMU).
 *
 * Streams the IMU at 104 / 208 / 416 (default) / 833 Hz over the lumbar IMU protocol
 * (firmware_protocol/PROTOCOL.md): the sensor FIFO is read every 10 ms, samples are stamped
 * by a phase-locked clock, batched into packets that fill the negotiated ATT MTU, and sent as
 * notifications. Start, stop, rate and range arrive on the control characteristic.
 * With no central at all it logs a run to the board's 2 MiB QSPI flash (LOG_START before the
 * run, `gait sync` afterwards: PROTOCOL.md section 9).
 *
 * Board package: "Seeed nRF52 Boards" (Adafruit nRF52 core with the Bluefruit BLE library),
 * library Adafruit SPIFlash. All protocol decisions live in src/lip_device.h and
 * src/lip_log.h, which the test suite compiles and tests on a PC; this file only moves bytes
 * between them, the I2C bus, the QSPI flash and the BLE stack. Its logic has been compiled
 * and run on the host only (see README.md): treat it as a reference, not a product.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <Adafruit_SPIFlash.h>
#include <Wire.h>
#include <bluefruit.h>

#include "src/lip_device.h"
#include "src/lip_log.h"
#include "src/lumbar_imu_protocol.h"

/* ---- hardware ------------------------------------------------------------------------- */
#ifndef IMU_WIRE
#define IMU_WIRE Wire1 /* the XIAO nRF52840 Sense wires its IMU to the second I2C bus */
#endif
#define IMU_ADDR 0x6A

#define REG_FIFO_CTRL3 0x08
#define REG_FIFO_CTRL5 0x0A
#define REG_WHO_AM_I 0x0F
#define REG_CTRL1_XL 0x10
#define REG_CTRL2_G 0x11
#define REG_CTRL3_C 0x12
#define REG_FIFO_STATUS1 0x3A
#define REG_FIFO_DATA_OUT_L 0x3E

#define READ_PERIOD_MS 10
#define I2C_CHUNK_BYTES 48 /* 4 samples; the Wire buffer holds 64 bytes */

static lip_device_t dev;

/* ---- the session store on the QSPI flash (P25Q16H, 2 MiB, 4 KiB sectors) ---------------- */
static Adafruit_FlashTransport_QSPI flashTransport;
static Adafruit_SPIFlash qspiFlash(&flashTransport);
static lip_log_t store;
static bool storeOk = false;

static int flashRead(void *, uint32_t addr, uint8_t *buf, size_t n) {
  return qspiFlash.readBuffer(addr, buf, (uint32_t)n) == n ? 0 : -1;
}

static int flashProgram(void *, uint32_t addr, const uint8_t *buf, size_t n) {
  return qspiFlash.writeBuffer(addr, buf, (uint32_t)n) == n ? 0 : -1; /* splits at 256-byte pages */
}

static int flashErase(void *, uint32_t addr) {
  return qspiFlash.eraseSector(addr / LIP_FLASH_SECTOR) ? 0 : -1; /* takes a sector number */
}

static lip_flash_t flashIf = {nullptr, 0, flashRead, flashProgram, flashErase};

/* ---- BLE objects ---------------------------------------------------------------------- */
static const uint8_t UUID_SERVICE[16] = LIP_UUID128_LE(0x0001);
static const uint8_t UUID_DATA[16] = LIP_UUID128_LE(0x0002);
static const uint8_t UUID_CONTROL[16] = LIP_UUID128_LE(0x0003);
static const uint8_t UUID_CONFIG[16] = LIP_UUID128_LE(0x0004);

BLEService lipService(UUID_SERVICE);
BLECharacteristic dataChr(UUID_DATA);
BLECharacteristic controlChr(UUID_CONTROL);
BLECharacteristic configChr(UUID_CONFIG);
static const uint8_t UUID_LOG[16] = LIP_UUID128_LE(0x0005);
BLECharacteristic logChr(UUID_LOG);
BLEDis bledis;
BLEBas blebas;

static volatile uint16_t connHandle = BLE_CONN_HANDLE_INVALID;
/* a write arrives in the BLE task; loop() handles it */
static volatile bool commandPending = false;
static uint8_t commandBuf[16]; /* the longest command (LOG_READ) has 11 bytes */
static volatile uint8_t commandLen = 0;
static volatile bool mtuChanged = false;

/* ---- IMU access ----------------------------------------------------------------------- */
static void imuWrite(uint8_t reg, uint8_t value) {
  IMU_WIRE.beginTransmission(IMU_ADDR);
  IMU_WIRE.write(reg);
  IMU_WIRE.write(value);
  IMU_WIRE.endTransmission();
}

static size_t imuRead(uint8_t reg, uint8_t *buf, size_t n) {
  IMU_WIRE.beginTransmission(IMU_ADDR);
  IMU_WIRE.write(reg);
  if (IMU_WIRE.endTransmission(false) != 0) return 0;
  size_t got = IMU_WIRE.requestFrom((uint8_t)IMU_ADDR, (uint8_t)n);
  for (size_t i = 0; i < got; i++) buf[i] = IMU_WIRE.read();
  return got;
}

static void imuStop() {
  imuWrite(REG_FIFO_CTRL5, 0x00); /* FIFO bypass */
  imuWrite(REG_CTRL1_XL, 0x00);   /* power down */
  imuWrite(REG_CTRL2_G, 0x00);
}

static void imuStart() {
  const uint8_t odr = LIP_LSM6DS3_RATES[dev.rate_index].odr_code;
  imuStop();
  imuWrite(REG_CTRL3_C, 0x44); /* BDU, register auto-increment */
  imuWrite(REG_CTRL1_XL, (uint8_t)((odr << 4) | LIP_LSM6DS3_ACC_RANGES[dev.acc_index].fs_bits));
  imuWrite(REG_CTRL2_G, (uint8_t)((odr << 4) | LIP_LSM6DS3_GYR_RANGES[dev.gyr_index].fs_bits));
  imuWrite(REG_FIFO_CTRL3, 0x09);                          /* gyro and accel in the FIFO, no decimation */
  imuWrite(REG_FIFO_CTRL5, (uint8_t)((odr << 3) | 0x06)); /* FIFO at the ODR, continuous mode */
}

/* Read what the FIFO holds and hand it to the device logic. */
static void imuPoll() {
  uint8_t st[4];
  uint8_t buf[I2C_CHUNK_BYTES];
  if (imuRead(REG_FIFO_STATUS1, st, 4) != 4) return;
  const uint32_t now = micros();
  size_t words = (size_t)st[0] | ((size_t)(st[1] & 0x07) << 8); /* DIFF_FIFO */
  const int overrun = (st[1] & 0x40) != 0;
  uint16_t pattern = (uint16_t)(st[2] | ((st[3] & 0x03) << 8)); /* FIFO_PATTERN */
  bool first = true;
  while (words >= 2) {
    size_t take = words * 2 > I2C_CHUNK_BYTES ? I2C_CHUNK_BYTES : words * 2;
    size_t got = imuRead(REG_FIFO_DATA_OUT_L, buf, take);
    if (got < 2) break;
    got &= ~(size_t)1;
    words -= got / 2;
    lip_device_fifo_data(&dev, now, first ? pattern : 0xFFFF, buf, got, words / 6, first && overrun);
    first = false;
  }
}

/* ---- BLE helpers ---------------------------------------------------------------------- */
static void publishConfig() {
  uint8_t v[LIP_CONFIG_EXT_SIZE];
  const uint16_t n = (uint16_t)lip_device_config_value(&dev, v, sizeof v);
  configChr.write(v, n);
  if (connHandle != BLE_CONN_HANDLE_INVALID && configChr.notifyEnabled(connHandle)) configChr.notify(v, n);
}

static void onControlWrite(uint16_t conn, BLECharacteristic *chr, uint8_t *data, uint16_t len) {
  (void)conn;
  (void)chr;
  if (len > sizeof commandBuf) len = sizeof commandBuf; /* longer writes are bad lengths anyway */
  memcpy(commandBuf, data, len);
  commandLen = (uint8_t)len;
  commandPending = true;
}

static void onConnect(uint16_t conn) {
  connHandle = conn;
  BLEConnection *c = Bluefruit.Connection(conn);
  c->requestPHY();              /* 2M PHY where the central supports it */
  c->requestDataLengthUpdate(); /* 251-byte link-layer packets */
  c->requestMtuExchange(247);
  c->requestConnectionParameter(12); /* 15 ms */
  mtuChanged = true;
}

static void onDisconnect(uint16_t conn, uint8_t reason) {
  (void)conn;
  (void)reason;
  connHandle = BLE_CONN_HANDLE_INVALID;
  if (dev.cfg.log_state != LIP_LOG_STATE_LOGGING) imuStop(); /* a logged run goes on */
  lip_device_disconnected(&dev);
  publishConfig();
}

static uint8_t batteryPercent() {
#if defined(PIN_VBAT) && defined(VBAT_ENABLE)
  pinMode(VBAT_ENABLE, OUTPUT);
  digitalWrite(VBAT_ENABLE, LOW);
  analogReference(AR_INTERNAL_2_4);
  analogReadResolution(12);
  const float v = analogRead(PIN_VBAT) * 2.4f / 4095.0f * (1510.0f / 510.0f); /* 1M / 510k divider */
  digitalWrite(VBAT_ENABLE, HIGH);
  const float pct = (v - 3.3f) / (4.2f - 3.3f) * 100.0f;
  return (uint8_t)(pct < 0 ? 0 : pct > 100 ? 100 : pct);
#else
  return 100;
#endif
}

/* ---- setup / loop --------------------------------------------------------------------- */
void setup() {
#ifdef PIN_LSM6DS3TR_C_POWER
  pinMode(PIN_LSM6DS3TR_C_POWER, OUTPUT);
  digitalWrite(PIN_LSM6DS3TR_C_POWER, HIGH);
  delay(20);
#endif
  IMU_WIRE.begin();
  IMU_WIRE.setClock(400000);
  lip_device_init(&dev);
  lip_device_tick(&dev, micros());
  if (qspiFlash.begin()) { /* recent Adafruit SPIFlash releases know the P25Q16H by its JEDEC id */
    flashIf.size = qspiFlash.size();
    storeOk = lip_log_mount(&store, &flashIf) == LIP_LOG_OK;
    if (storeOk) lip_device_attach_store(&dev, &store); /* a session cut by a power loss is closed here */
  }
  uint8_t who = 0;
  imuRead(REG_WHO_AM_I, &who, 1);
  if (who != 0x6A && who != 0x69) dev.cfg.last_status = LIP_STATUS_SENSOR_ERROR;
  imuStop();

  Bluefruit.configPrphBandwidth(BANDWIDTH_MAX); /* MTU 247, long event length */
  Bluefruit.begin();
  Bluefruit.setTxPower(4);
  char name[24];
  uint8_t mac[6];
  Bluefruit.getAddr(mac);
  snprintf(name, sizeof name, "LumbarIMU-%02X%02X", mac[1], mac[0]);
  Bluefruit.setName(name);
  Bluefruit.Periph.setConnectCallback(onConnect);
  Bluefruit.Periph.setDisconnectCallback(onDisconnect);

  bledis.setManufacturer("gait-lumbar (open hardware reference)");
  bledis.setModel("XIAO nRF52840 Sense / LSM6DS3TR-C");
  bledis.setFirmwareRev(storeOk ? "lumbar-imu-protocol 1, logging" : "lumbar-imu-protocol 1");
  bledis.begin();
  blebas.begin();
  blebas.write(batteryPercent());

  lipService.begin();
  dataChr.setProperties(CHR_PROPS_NOTIFY);
  dataChr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  dataChr.setMaxLen(LIP_MAX_PACKET_SIZE);
  dataChr.begin();
  controlChr.setProperties(CHR_PROPS_WRITE);
  controlChr.setPermission(SECMODE_NO_ACCESS, SECMODE_OPEN);
  controlChr.setMaxLen(sizeof commandBuf);
  controlChr.setWriteCallback(onControlWrite);
  controlChr.begin();
  configChr.setProperties(CHR_PROPS_READ | CHR_PROPS_NOTIFY);
  configChr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  configChr.setMaxLen(LIP_CONFIG_EXT_SIZE); /* 20 bytes, 32 with the logging fields */
  configChr.begin();
  logChr.setProperties(CHR_PROPS_NOTIFY);
  logChr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  logChr.setMaxLen(LIP_MAX_ATTRIBUTE_SIZE);
  logChr.begin();
  publishConfig();

  Bluefruit.Advertising.addFlags(BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE);
  Bluefruit.Advertising.addTxPower();
  Bluefruit.Advertising.addService(lipService);
  Bluefruit.ScanResponse.addName();
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.setInterval(32, 244); /* 20 ms fast, 152.5 ms slow */
  Bluefruit.Advertising.setFastTimeout(30);
  Bluefruit.Advertising.start(0);
}

void loop() {
  static uint32_t lastRead = 0, lastBattery = 0;
  lip_device_tick(&dev, micros());

  if (mtuChanged && connHandle != BLE_CONN_HANDLE_INVALID) {
    mtuChanged = false;
    lip_device_set_mtu(&dev, Bluefruit.Connection(connHandle)->getMtu());
    publishConfig();
  }
  if (commandPending) {
    uint8_t cmd[sizeof commandBuf];
    const uint8_t len = commandLen;
    memcpy(cmd, commandBuf, len);
    commandPending = false;
    if (connHandle != BLE_CONN_HANDLE_INVALID) lip_device_set_mtu(&dev, Bluefruit.Connection(connHandle)->getMtu());
    lip_device_tick(&dev, micros());
    const uint8_t act = lip_device_command(&dev, cmd, len);
    if (act & LIP_ACT_SENSOR_STOP) imuStop();
    if (act & (LIP_ACT_SENSOR_START | LIP_ACT_SENSOR_RECONFIGURE)) imuStart();
    if (act & LIP_ACT_CONFIG_CHANGED) publishConfig();
  }
  if (dev.cfg.log_state == LIP_LOG_STATE_LOGGING && millis() - lastRead >= READ_PERIOD_MS) {
    lastRead = millis();
    imuPoll(); /* with or without a central */
    const uint8_t act = lip_device_log_service(&dev); /* full records to flash */
    if (act & LIP_ACT_SENSOR_STOP) imuStop();        /* the store is full: the session ended */
    if (act & LIP_ACT_CONFIG_CHANGED) publishConfig();
  }
  if (connHandle != BLE_CONN_HANDLE_INVALID && logChr.notifyEnabled(connHandle)) {
    uint8_t msg[LIP_MAX_ATTRIBUTE_SIZE];
    size_t n;
    while ((n = lip_device_log_peek(&dev, msg, sizeof msg)) > 0) { /* answers to LIST, READ, GET_CLOCK */
      if (!logChr.notify(msg, (uint16_t)n)) break;                /* radio queue full: retry next time */
      lip_device_log_commit(&dev);
    }
  }
  if (dev.cfg.state == LIP_STATE_STREAMING && millis() - lastRead >= READ_PERIOD_MS) {
    lastRead = millis();
    imuPoll();
    uint8_t pkt[LIP_MAX_PACKET_SIZE];
    size_t n;
    while ((n = lip_device_peek(&dev, pkt, sizeof pkt, 0)) > 0) {
      if (!dataChr.notify(pkt, (uint16_t)n)) break; /* radio queue full: retry next time */
      lip_device_commit(&dev);
    }
  }
  if (millis() - lastBattery >= 60000) {
    lastBattery = millis();
    blebas.write(batteryPercent());
  }
  delay(1);
}
