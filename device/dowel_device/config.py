"""Pins and constants of the dowel's hardware; hardware_docs/ states the same values (a test
checks that they agree).

Raspberry Pi Pico (RP2040). FSRs on ADC0-ADC2 through voltage dividers; IMU on I2C0.
"""

from dowel_protocol.compat import const

FW_MAJOR = const(1)
FW_MINOR = const(0)
FW_PATCH = const(0)

# FSR channels: index on the wire (head, midback, tailbone) -> ADC GPIO
FSR_HEAD_GPIO = const(26)  # ADC0
FSR_MIDBACK_GPIO = const(27)  # ADC1
FSR_TAILBONE_GPIO = const(28)  # ADC2
FSR_GPIOS = (FSR_HEAD_GPIO, FSR_MIDBACK_GPIO, FSR_TAILBONE_GPIO)
FSR_DIVIDER_OHMS = const(3300)  # fixed resistor from ADC pin to GND; the FSR goes to 3V3

# IMU on I2C0
I2C_ID = const(0)
I2C_SDA_GPIO = const(4)
I2C_SCL_GPIO = const(5)
I2C_FREQ_HZ = const(400000)  # probing, and the MPU-6050/6500 (400 kHz at most)
I2C_FAST_FREQ_HZ = const(1000000)  # the LSM6DSOX takes Fast-mode Plus
I2C_TIMEOUT_US = const(5000)  # a transfer gives up after this (the port's default is 50 ms)

DEFAULT_RATE_HZ = const(100)
DEFAULT_OVERSAMPLE = const(4)  # ADC reads averaged per FSR per sample
OVERSAMPLE_MAX_RATE_HZ = const(200)  # above this, one ADC read per FSR per sample
STATUS_PERIOD_MS = const(1000)
WATCHDOG_TIMEOUT_MS = const(2000)
IMU_RETRY_MS = const(1000)  # how often a missing or failed IMU is probed again
