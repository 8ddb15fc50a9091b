"""Spoken coaching for `gait record --voice`: what to say when (a pure scheduler), and a voice.

`CueScheduler` is pure: given, over time, the faults the live analysis finds, whether the
data are fresh and the latest metrics, it returns at most one `Utterance` to start now. Its
rules (`CuePolicy`):

- nothing but the opening announcement during the warm-up (``warmup_s``, 3 min by default);
- one utterance at a time, then a quiet period (``gap_s``) before the next;
- a fault's cue is spoken once the fault has been seen continuously for ``confirm_s`` (a flicker
  in one window is never spoken), the most severe first;
- the same cue again at most every ``repeat_s`` while the fault persists; a fault that went
  away for ``clear_s`` and came back is new again, but its cue is not repeated sooner than
  ``min_repeat_s``;
- no cue from stale data (no data for the stale limit: the findings are old);
- optionally a summary every ``summary_every_s`` (minutes, cadence, contact time);
- "sensor signal lost" when the data have been stale for ``lost_after_s``, and "back" when
  they return (these two do not wait for the warm-up or the quiet period, only for silence).

`Speaker` says a text through an offline text-to-speech engine, or renders it to a WAV file.
It uses pyttsx3 (the optional ``voice`` extra), which drives the platform's own engine: SAPI 5
on Windows, AVSpeechSynthesizer / NSSpeechSynthesizer on macOS, and eSpeak NG on Linux (the
``espeak-ng`` package; playback through ``aplay``). Offline on every platform, no model files,
and the espeak-ng voices cover more than a hundred languages. The texts come from the fault
catalogue (``cue``, and ``cues`` per language) and ``gait/data/voice.toml``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import re
import threading
import tomllib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DeviceError, GaitInputError, Where

if TYPE_CHECKING:
    from ._record_types import LiveView

__all__ = [
    "CuePolicy",
    "CueScheduler",
    "Phrases",
    "Speaker",
    "Utterance",
    "VoiceCoach",
    "VoiceUnavailable",
    "phrases",
    "spoken_words",
]

SEVERITY_RANK = {"low": 1, "moderate": 2, "high": 3}


class VoiceUnavailable(DeviceError):
    """No text-to-speech engine: says what to install."""


@dataclass(frozen=True)
class Phrases:
    """The spoken texts of one language (``gait/data/voice.toml``)."""

    language: str
    voice: str
    start: str
    minutes: str
    cadence: str
    contact: str
    no_running: str
    signal_lost: str
    signal_back: str

    def summary(self, run_s: float, cadence_spm: float, contact_time_s: float) -> str:
        parts = [self.minutes.format(minutes=round(run_s / 60.0))]
        if math.isfinite(cadence_spm):
            parts.append(self.cadence.format(cadence=round(cadence_spm)))
        if math.isfinite(contact_time_s):
            parts.append(self.contact.format(contact=round(contact_time_s * 1000.0)))
        if len(parts) == 1:
            parts.append(self.no_running)
        return ". ".join(p[0].upper() + p[1:] for p in parts) + "."


def phrases(language: str = "en") -> Phrases:
    """The phrases of ``language`` (``"de"``, ``"fr-CA"`` falls back to ``"fr"``).

    Raises
    ------
    GaitInputError
        For a language without phrases (the message lists those there are).
    """
    doc = tomllib.loads(resources.files("gait").joinpath("data", "voice.toml").read_text(encoding="utf-8"))
    for key in (language, language.split("-")[0]):
        if key in doc:
            return Phrases(language=key, **doc[key])
    raise GaitInputError(
        "no spoken phrases for this language",
        expected=f"one of {', '.join(sorted(doc))}",
        found=repr(language),
        where=Where(parameter="--voice-language"),
    )


@dataclass(frozen=True)
class CuePolicy:
    """When to speak; every time in seconds of recording. See the module docstring."""

    warmup_s: float = 180.0
    confirm_s: float = 5.0
    repeat_s: float = 300.0
    clear_s: float = 60.0
    min_repeat_s: float = 120.0
    gap_s: float = 20.0
    summary_every_s: float | None = None
    lost_after_s: float = 10.0
    words_per_min: float = 170.0
    continuity_s: float = 3.0

    def __post_init__(self) -> None:
        for name in ("warmup_s", "confirm_s", "repeat_s", "clear_s", "min_repeat_s", "gap_s", "lost_after_s"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise GaitInputError(
                    "out of range", expected="a finite number >= 0 (s)", found=repr(v), where=Where(parameter=name)
                )
        if self.summary_every_s is not None and not (self.summary_every_s > 0 and math.isfinite(self.summary_every_s)):
            raise GaitInputError(
                "out of range",
                expected="a duration > 0 (s)",
                found=repr(self.summary_every_s),
                where=Where(parameter="summary_every_s"),
            )

    def duration_s(self, text: str) -> float:
        """A generous estimate of how long ``text`` takes to say (for the quiet period)."""
        return 0.6 + spoken_words(text) * 60.0 / self.words_per_min + 0.25 * text.count(":") + 0.3 * text.count(".")


def _number_words(n: int) -> int:
    """About how many words a whole number takes to say (``172``: one hundred and seventy two)."""
    if n < 0:
        return 1 + _number_words(-n)
    if n <= 20:
        return 1
    if n < 100:
        return 1 if n % 10 == 0 else 2
    if n < 1000:
        return 2 + (0 if n % 100 == 0 else 1 + _number_words(n % 100))
    return _number_words(n // 1000) + 1 + (0 if n % 1000 == 0 else _number_words(n % 1000))


def spoken_words(text: str) -> int:
    """Words in ``text`` as spoken: numbers count as the words that say them."""
    return sum(_number_words(int(w)) if w.isdigit() else 1 for w in re.findall(r"\w+", text))


@dataclass(frozen=True)
class Utterance:
    """One thing to say: when (s of recording), what kind, about what, and the text."""

    at_s: float
    kind: str  # "cue", "summary" or "status"
    key: str  # the fault id, "summary", "start", "signal_lost" or "signal_back"
    text: str
    duration_s: float


@dataclass
class _Fault:
    first_seen: float
    last_seen: float
    severity: str
    last_spoken: float | None = None
    spoken_in_episode: bool = False


@dataclass
class CueScheduler:
    """What to say when; pure (no clock, no I/O). See the module docstring.

    Parameters
    ----------
    policy
        The rules.
    phrases
        Texts of the language spoken.
    cue_text
        The cue of a fault id in that language (default: the catalogue's `FaultSpec.cue_for`).
    announce_start
        Say `Phrases.start` when the first data arrive.
    """

    policy: CuePolicy = field(default_factory=CuePolicy)
    phrases: Phrases = field(default_factory=phrases)
    cue_text: Callable[[str], str] | None = None
    announce_start: bool = True

    def __post_init__(self) -> None:
        self._faults: dict[str, _Fault] = {}
        self._busy_until = -math.inf  # end of the current utterance
        self._quiet_until = -math.inf  # end of the quiet period after it
        self._next_summary = self.policy.summary_every_s if self.policy.summary_every_s else math.inf
        self._stale_since: float | None = None
        self._lost_said = False
        self._started = False
        self.said: list[Utterance] = []
        if self.cue_text is None:
            from ..faults import CATALOGUE

            lang = self.phrases.language
            self.cue_text = lambda fid: CATALOGUE[fid].cue_for(lang) if fid in CATALOGUE.ids else fid

    def finished(self, t_s: float) -> None:
        """The speaker finished at ``t_s`` (the quiet period counts from the real end)."""
        self._busy_until = min(self._busy_until, t_s)
        self._quiet_until = t_s + self.policy.gap_s

    def step(
        self,
        t_s: float,
        faults: Sequence[tuple[str, str]],
        *,
        fresh: bool,
        cadence_spm: float = math.nan,
        contact_time_s: float = math.nan,
    ) -> Utterance | None:
        """Feed the state at ``t_s`` (s of recording); returns what to start saying now, if anything.

        ``faults`` are ``(fault id, severity)`` of the latest evaluation; ``fresh`` is False
        while no data arrive (stale numbers).
        """
        p = self.policy
        if fresh:
            for fid, sev in faults:
                f = self._faults.get(fid)
                if f is None or t_s - f.last_seen > p.continuity_s:
                    episode_new = f is None or t_s - f.last_seen >= p.clear_s
                    if f is None:
                        f = self._faults[fid] = _Fault(t_s, t_s, sev)
                    f.first_seen = t_s
                    if episode_new:
                        f.spoken_in_episode = False
                f.last_seen, f.severity = t_s, sev
            self._stale_since = None
        elif self._stale_since is None:
            self._stale_since = t_s
        if t_s < self._busy_until:
            return None  # one at a time
        u = self._status(t_s, fresh) or (self._choose(t_s, faults, cadence_spm, contact_time_s) if fresh else None)
        if u is not None:
            self._busy_until = t_s + u.duration_s
            self._quiet_until = self._busy_until + p.gap_s
            self.said.append(u)
        return u

    def _utter(self, t_s: float, kind: str, key: str, text: str) -> Utterance:
        return Utterance(t_s, kind, key, text, self.policy.duration_s(text))

    def _status(self, t_s: float, fresh: bool) -> Utterance | None:
        if self.announce_start and not self._started and fresh:
            self._started = True
            return self._utter(t_s, "status", "start", self.phrases.start)
        if not fresh and self._stale_since is not None and not self._lost_said:
            if t_s - self._stale_since >= self.policy.lost_after_s:
                self._lost_said = True
                return self._utter(t_s, "status", "signal_lost", self.phrases.signal_lost)
        if fresh and self._lost_said:
            self._lost_said = False
            return self._utter(t_s, "status", "signal_back", self.phrases.signal_back)
        return None

    def _choose(
        self, t_s: float, faults: Sequence[tuple[str, str]], cadence: float, contact: float
    ) -> Utterance | None:
        p = self.policy
        if t_s < p.warmup_s or t_s < self._quiet_until:
            return None
        present = {fid for fid, _ in faults}
        eligible = []
        for fid in present:
            f = self._faults[fid]
            if t_s - f.first_seen < p.confirm_s:
                continue
            since = math.inf if f.last_spoken is None else t_s - f.last_spoken
            if since >= p.repeat_s or (not f.spoken_in_episode and since >= p.min_repeat_s):
                eligible.append((-SEVERITY_RANK.get(f.severity, 2), f.first_seen, fid))
        if eligible:
            fid = min(eligible)[2]
            f = self._faults[fid]
            f.last_spoken, f.spoken_in_episode = t_s, True
            assert self.cue_text is not None
            return self._utter(t_s, "cue", fid, self.cue_text(fid))
        if t_s >= self._next_summary:
            assert p.summary_every_s is not None
            n = math.floor(t_s / p.summary_every_s)
            self._next_summary = (n + 1) * p.summary_every_s
            return self._utter(t_s, "summary", "summary", self.phrases.summary(n * p.summary_every_s, cadence, contact))
        return None


# ---------------------------------------------------------------------------------------
# the voice
# ---------------------------------------------------------------------------------------
class Speaker:
    """An offline text-to-speech voice (pyttsx3), used from one worker thread.

    Parameters
    ----------
    language
        Voice language (``"en"``, ``"de"`` ...): the first installed voice of that language.
    words_per_min
        Speaking rate.
    """

    def __init__(self, *, language: str = "en", words_per_min: float = 170.0) -> None:
        self.language = language
        self.words_per_min = words_per_min
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gait-voice")
        self._engine: Any = None
        self.voice_id: str | None = None
        self._pool.submit(self._init).result()

    def _init(self) -> None:
        try:
            import pyttsx3
        except ImportError:
            raise VoiceUnavailable(
                "spoken cues need the optional text-to-speech package: pip install 'gait-lumbar[voice]' "
                "(and on Linux the espeak-ng package, e.g. apt install espeak-ng alsa-utils)"
            ) from None
        try:
            engine = pyttsx3.init()
        except (RuntimeError, OSError, ImportError) as e:
            raise VoiceUnavailable(
                f"no text-to-speech engine could be started ({e}); on Linux install espeak-ng (apt install espeak-ng)"
            ) from None
        engine.setProperty("rate", int(self.words_per_min))
        self.voice_id = _pick_voice(engine.getProperty("voices") or [], self.language)
        if self.voice_id is not None:
            engine.setProperty("voice", self.voice_id)
        self._engine = engine

    def _say(self, text: str) -> None:
        self._engine.say(text)
        self._engine.runAndWait()

    def _render(self, text: str, path: str) -> None:
        # pyttsx3's espeak driver prints a line when it saves a file (not used while recording)
        with contextlib.redirect_stdout(io.StringIO()):
            self._engine.save_to_file(text, path)
            self._engine.runAndWait()

    def say(self, text: str) -> None:
        """Speak ``text`` now; returns when it has been said (call from a worker, not the event loop)."""
        self._pool.submit(self._say, text).result()

    def render(self, text: str, path: str | Path) -> Path:
        """Speak ``text`` into a WAV file instead of the loudspeaker (tests, checking a voice)."""
        p = Path(path)
        self._pool.submit(self._render, text, str(p)).result()
        return p

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _pick_voice(voices: Sequence[Any], language: str) -> str | None:
    """The installed voice for ``language``: an exact match of its code first (``en``, then
    ``en-gb`` for ``en-GB``), else the first voice of the same base language."""
    want = language.lower().replace("_", "-")
    base = want.split("-")[0]

    def codes(v: Any) -> list[str]:
        langs = [str(x).lower().replace("_", "-") for x in (getattr(v, "languages", None) or [])]
        vid = str(getattr(v, "id", "")).lower()
        return [*langs, vid.rsplit("/", 1)[-1]]

    for target in dict.fromkeys((want, base)):
        for v in voices:
            if target in codes(v):
                return str(v.id)
    for v in voices:
        if any(c.split("-")[0] == base for c in codes(v)):
            return str(v.id)
    return None


class VoiceCoach:
    """Speaks the scheduler's utterances during a recording (reads `Recorder.view`).

    Runs beside the dashboard: every ``every_s`` it gives the scheduler the recording time,
    the faults of the latest evaluation, whether the data are fresh and the latest metrics, and
    says what it returns, one utterance at a time, in a worker thread.
    """

    def __init__(
        self, scheduler: CueScheduler, speaker: Speaker | Callable[[str], None], *, every_s: float = 0.5
    ) -> None:
        self.scheduler = scheduler
        self.say = speaker.say if isinstance(speaker, Speaker) else speaker
        self.every_s = every_s
        self.errors: list[str] = []
        self._lock = threading.Lock()

    async def run(self, view: Callable[[], LiveView], done: Callable[[], bool]) -> None:
        speaking: asyncio.Future[None] | None = None
        while not done():
            v = view()
            t = v.recorded_s
            if speaking is not None and speaking.done():
                with contextlib.suppress(Exception):
                    speaking.result()
                self.scheduler.finished(t)
                speaking = None
            if speaking is None and v.recorded_s > 0:
                m = v.metrics
                u = self.scheduler.step(
                    t,
                    m.faults,
                    fresh=not v.stale,
                    cadence_spm=m.cadence_spm,
                    contact_time_s=m.contact_time_s,
                )
                if u is not None:
                    speaking = asyncio.ensure_future(asyncio.to_thread(self._say, u.text))
            await asyncio.sleep(self.every_s)
        if speaking is not None:
            with contextlib.suppress(Exception):
                await speaking

    def _say(self, text: str) -> None:
        try:
            self.say(text)
        except Exception as e:  # a voice that fails must not stop the recording; shown at the end
            with self._lock:
                self.errors.append(f"{type(e).__name__}: {e}")


def cue_texts(language: str) -> Mapping[str, str]:
    """Every fault's cue in ``language`` (for checking a translation by ear)."""
    from ..faults import CATALOGUE

    return {f.id: f.cue_for(language) for f in CATALOGUE.faults}
