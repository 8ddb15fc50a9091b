"""Reading and writing sessions: the canonical CSV (optionally gzip) and Parquet formats.

The format is specified in ``docs/session-format.md``. In short, a canonical CSV is::

    # gait-session: 1
    # sampling_rate_hz: 200.0
    # device: "WitMotion WT901BLE"
    t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_rads,gyr_y_rads,gyr_z_rads
    0.0,0.113,-0.204,9.79,0.0012,-0.0031,0.0004
    ...

``pandas.read_csv(path, comment="#")`` opens it in one call. Units are declared by the column
name suffix; g, mg, deg/s, ms and us are accepted and converted to SI at this edge.

Everything a user can get wrong is checked here, and each problem raises `GaitInputError` with
the file, line and column, what was expected and what was found; repairs that lose nothing
(resampling jittered timestamps, dropping a line cut off by a crash) emit `GaitDataWarning`.

Modules: `._read` (the entry point, CSV or Parquet by content), `._csv` (bytes, header and the
fast numeric parser), `._validate` (DataFrame or arrays -> `Session`, `regularise`), `._units`
(column names, units, SI conversion and plausibility), `._parquet`, `._writer` (whole files, the
atomic write, the streaming writer), `._format` (constants, shared checks, message helpers).
"""

from ._csv import read_csv_session
from ._format import FORMAT_NAME, FORMAT_VERSION
from ._parquet import read_parquet_session, write_parquet_session
from ._read import load_session, read_canonical_session
from ._validate import regularise, session_from_arrays, session_from_dataframe
from ._writer import SessionCsvWriter, save_session, write_bytes_atomic, write_csv_session

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SessionCsvWriter",
    "load_session",
    "read_canonical_session",
    "read_csv_session",
    "read_parquet_session",
    "regularise",
    "save_session",
    "session_from_arrays",
    "session_from_dataframe",
    "write_bytes_atomic",
    "write_csv_session",
    "write_parquet_session",
]
