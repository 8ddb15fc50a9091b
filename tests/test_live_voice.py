"""Spoken coaching: the scheduler's rules on a simulated 40-minute run, the phrases and the
catalogue's translations, and real speech rendered to WAV by the offline engine (pyttsx3 with
eSpeak NG; those tests skip when either is missing)."""

from __future__ import annotations

import asyncio
import itertools
import math
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from gait.errors import GaitInputError
from gait.faults import CATALOGUE, load_catalogue
from gait.live._voice import CuePolicy, CueScheduler, Utterance, VoiceCoach, cue_texts, phrases, spoken_words

POLICY = CuePolicy(warmup_s=180, confirm_s=5, repeat_s=300, clear_s=60, min_repeat_s=120, gap_s=20, summary_every_s=300)


def _script(t: float) -> tuple[list[tuple[str, str]], bool]:
    """The simulated run: which faults the live evaluation reports at t, and whether data flow."""
    faults = []
    if 60 <= t < 1500:
        faults.append(("overstriding", "moderate"))  # from the warm-up on, for 24 minutes
    if 400 <= t < 700 or 900 <= t < 1300:
        faults.append(("heel_strike", "high"))  # two episodes
    if 500 <= t < 503 or 1000 <= t < 1001:
        faults.append(("trunk_rotation", "high"))  # flickers: never confirmed
    if 600 <= t < 2400 and int(t) % 7 == 0:
        pass  # (a skipped evaluation every 7 s: presence stays continuous)
    fresh = not (1800 <= t < 1850)  # the sensor goes silent for 50 s
    if not fresh:
        faults = []
    return faults, fresh


def _simulate(policy: CuePolicy = POLICY, *, end_s: float = 2400.0) -> list[Utterance]:
    s = CueScheduler(policy, phrases("en"))
    for t in np.arange(0.0, end_s, 1.0):
        faults, fresh = _script(float(t))
        if int(t) % 7 == 3 and faults:
            faults = faults[1:]  # an evaluation that misses one finding now and then
        s.step(float(t), faults, fresh=fresh, cadence_spm=171.6, contact_time_s=0.2485)
    return s.said


class TestScheduler:
    def test_rules_on_a_simulated_run(self) -> None:
        said = _simulate()
        kinds = [(round(u.at_s), u.key) for u in said]
        # 1. nothing but the opening during the warm-up
        assert said[0].key == "start" and said[0].at_s == 0.0
        assert all(u.at_s >= 180 for u in said[1:] if u.kind != "status")
        # 2. one at a time, with the quiet period after each (status messages excepted)
        for a, b in itertools.pairwise(said):
            assert b.at_s >= a.at_s + a.duration_s, (a, b)
            if b.kind != "status":
                assert b.at_s >= a.at_s + a.duration_s + POLICY.gap_s, (a, b)
        # 3. the first cue: overstriding (seen since minute 1), right after the warm-up
        cues = [u for u in said if u.kind == "cue"]
        assert (cues[0].key, cues[0].at_s) == ("overstriding", 180.0)
        assert cues[0].text == "overstriding: shorten your step"
        # 4. a flicker (seen 3 s, or 1 s) is never spoken
        assert "trunk_rotation" not in {u.key for u in said}
        # 5. repeats: never sooner than min_repeat_s, and sooner than repeat_s only for a new episode
        for key in ("overstriding", "heel_strike"):
            times = [u.at_s for u in cues if u.key == key]
            assert all(b - a >= POLICY.min_repeat_s for a, b in itertools.pairwise(times))
        over = [u.at_s for u in cues if u.key == "overstriding"]
        assert all(b - a >= POLICY.repeat_s for a, b in itertools.pairwise(over)), "one episode: every 5 min at most"
        heel = [u.at_s for u in cues if u.key == "heel_strike"]
        assert heel[0] == pytest.approx(405, abs=25), "confirmed after 5 s, then the quiet period"
        assert any(900 <= t <= 930 for t in heel), "the second episode is new: said again at once"
        # 6. the most severe first: when both are due, heel strike (high) before overstriding
        assert heel[0] < min(t for t in over if t > heel[0] - 1)
        # 7. summaries every 5 minutes (minute 5, 10 ... as long as running), after the warm-up
        summ = [u for u in said if u.kind == "summary"]
        assert [u.text.split(" ")[0] for u in summ][:3] == ["5", "10", "15"]
        assert "Cadence 172. Contact time 248 milliseconds" in summ[0].text
        assert all(u.at_s >= 300 for u in summ)
        # 8. no cue from stale data; the signal loss is said after 10 s, and its return
        assert not [u for u in said if 1800 <= u.at_s < 1850 and u.kind != "status"]
        lost = [u.at_s for u in said if u.key == "signal_lost"]
        back = [u.at_s for u in said if u.key == "signal_back"]
        assert lost == [1810.0] and back == [1850.0], kinds

    def test_nothing_at_all_while_no_fault_and_no_summary(self) -> None:
        s = CueScheduler(CuePolicy(), phrases("en"), announce_start=False)
        assert all(s.step(float(t), [], fresh=True) is None for t in range(3600))

    def test_the_real_end_of_speech_starts_the_quiet_period(self) -> None:
        s = CueScheduler(CuePolicy(warmup_s=0, confirm_s=0, gap_s=20), phrases("en"), announce_start=False)
        u = s.step(0.0, [("overstriding", "high"), ("heel_strike", "moderate")], fresh=True)
        assert u is not None and u.key == "overstriding"
        s.finished(9.0)  # spoken more slowly than estimated
        assert s.step(28.5, [("heel_strike", "moderate")], fresh=True) is None
        assert s.step(29.0, [("heel_strike", "moderate")], fresh=True).key == "heel_strike"  # type: ignore[union-attr]

    def test_numbers_count_as_the_words_that_say_them(self) -> None:
        assert spoken_words("Cadence 172.") == 1 + 5 and spoken_words("15 minutes") == 2 and spoken_words("2000") == 2

    def test_policy_is_validated(self) -> None:
        with pytest.raises(GaitInputError, match="gap_s"):
            CuePolicy(gap_s=-1)
        with pytest.raises(GaitInputError, match="summary_every_s"):
            CuePolicy(summary_every_s=0)


class TestLanguages:
    def test_every_fault_has_its_cue_in_each_shipped_language(self) -> None:
        assert set(CATALOGUE.cue_languages) == {"en", "de", "fr", "es"}
        for lang in CATALOGUE.cue_languages:
            texts = cue_texts(lang)
            assert len(texts) == len(CATALOGUE.faults) and all(0 < len(t) <= 60 for t in texts.values())
            assert phrases(lang).language == lang
        assert cue_texts("de")["overstriding"] == "zu lange Schritte: Schritt verkürzen"
        assert cue_texts("pt")["overstriding"] == CATALOGUE["overstriding"].cue, "falls back to the catalogue's"
        assert phrases("fr-CA").language == "fr"

    def test_the_scheduler_speaks_the_chosen_language(self) -> None:
        s = CueScheduler(CuePolicy(warmup_s=0, confirm_s=0), phrases("de"), announce_start=False)
        u = s.step(0.0, [("overstriding", "moderate")], fresh=True)
        assert u is not None and u.text == "zu lange Schritte: Schritt verkürzen"
        assert phrases("de").summary(600, math.nan, 0.25) == "10 Minuten. Bodenkontakt 250 Millisekunden."

    def test_unknown_language_is_refused(self) -> None:
        with pytest.raises(GaitInputError, match="no spoken phrases"):
            phrases("xx")

    def test_catalogue_checks_translations(self, tmp_path: Path) -> None:
        src = Path(CATALOGUE.path).read_text(encoding="utf-8")
        bad = src.replace('cues = { de = "zu lange', 'cues = { d1 = "zu lange', 1)
        p = tmp_path / "faults.toml"
        p.write_text(bad, encoding="utf-8")
        with pytest.raises(GaitInputError, match="bad language code"):
            load_catalogue(p)
        p.write_text(src.replace('language = "en"', 'language = "english"', 1), encoding="utf-8")
        with pytest.raises(GaitInputError, match="bad language code"):
            load_catalogue(p)


def test_the_coach_speaks_one_thing_at_a_time_from_the_view() -> None:
    """`VoiceCoach` reads the recorder's view and never starts a new utterance while one is said."""
    from gait.live._metrics import LiveMetrics
    from gait.live._record_types import LinkStats, LiveView

    clock = {"t": 0.0}
    spoken: list[tuple[float, str]] = []

    def view() -> LiveView:
        m = LiveMetrics(faults=(("overstriding", "moderate"),), cadence_spm=170.0, contact_time_s=0.25, n_steps=20)
        return LiveView("recording", "s", "a", clock["t"], clock["t"], 200.0, LinkStats(), m, Path("x.csv"))

    def say(text: str) -> None:
        spoken.append((clock["t"], text))

    async def go():
        coach = VoiceCoach(CueScheduler(CuePolicy(warmup_s=2, confirm_s=0, gap_s=1), phrases("en")), say, every_s=0.01)

        async def tick():
            while clock["t"] < 6:
                clock["t"] += 0.05
                await asyncio.sleep(0.005)

        await asyncio.gather(coach.run(view, lambda: clock["t"] >= 6), tick())
        return coach

    coach = asyncio.run(go())
    assert [s for _, s in spoken] == [
        "Recording. Form cues begin after the warm-up.",
        "overstriding: shorten your step",
    ]
    assert spoken[1][0] >= 2.0 and not coach.errors


# ---------------------------------------------------------------------------------------
# real speech, rendered to WAV
# ---------------------------------------------------------------------------------------
def _speaker(language: str):
    pytest.importorskip("pyttsx3", reason="the optional 'voice' extra (pyttsx3) is not installed")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (.ci/setup-system.sh installs it)")
    from gait.live._voice import Speaker

    return Speaker(language=language, words_per_min=170)


def _speech_stats(path: Path) -> tuple[float, float, float]:
    """(duration s, share of 20-ms frames with voice, ratio of loud to quiet frame energy)."""
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        fs = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    n = int(0.02 * fs)
    frames = x[: x.size // n * n].reshape(-1, n)
    rms = np.sqrt((frames**2).mean(axis=1))
    active = rms > 0.05 * rms.max()
    return x.size / fs, float(active.mean()), float(np.percentile(rms, 90) / max(np.percentile(rms, 10), 1.0))


@pytest.mark.parametrize(
    "language, text",
    [
        ("en", CATALOGUE["overstriding"].cue),
        ("en", phrases("en").summary(900, 171.6, 0.2485)),
        ("de", CATALOGUE["heel_strike"].cue_for("de")),
    ],
)
def test_speech_of_the_expected_length(tmp_path: Path, language: str, text: str) -> None:
    speaker = _speaker(language)
    try:
        path = speaker.render(text, tmp_path / "cue.wav")
    finally:
        speaker.close()
    assert speaker.voice_id is not None and speaker.voice_id.endswith(language)
    duration, voiced, contrast = _speech_stats(path)
    expected = spoken_words(text) * 60.0 / 170.0  # the speaking rate asked for
    assert 0.6 * expected <= duration <= 2.0 * expected + 1.0, (duration, expected)
    # speech: mostly voiced, with the pauses between words and phrases (not a tone, not silence)
    assert 0.4 <= voiced <= 0.97 and contrast > 20


def test_gait_record_voice_speaks_through_the_coach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The command line wires the coach to the recording (a phone made of software as the
    sensor; the voice replaced by a list, the rules are tested above)."""
    import gait.live._voice as voice
    from gait.cli import main
    from gait.simulator import SimulationConfig, simulate
    from tests.phone import VirtualPhone

    said: list[str] = []

    class ListSpeaker:
        def __init__(self, *, language: str, words_per_min: float) -> None:
            self.language = language

        def say(self, text: str) -> None:
            said.append(text)

        def close(self) -> None:
            pass

    monkeypatch.setattr(voice, "Speaker", ListSpeaker)
    run = simulate(SimulationConfig(duration_s=70.0, seed=4), sampling_rate_hz=200.0).session
    with VirtualPhone(run.slice_time(run.t[0] + 21, run.t[-1]), acc_hz=205, gyr_hz=202).serve() as url:
        code = main(
            [
                *("record", "--phyphox", url, "--out", str(tmp_path / "v.csv"), "--duration", "25s"),
                *("--no-dashboard", "--no-analysis", "--voice", "--voice-language", "de"),
                *("--voice-warmup-min", "0", "--voice-summary-min", "0.1"),
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert said[0] == phrases("de").start
    assert any(s.startswith("0 Minuten") or "Schrittfrequenz" in s for s in said[1:]), said
    assert "voice: said" in out


def test_without_the_voice_package_the_message_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from gait.live._voice import Speaker, VoiceUnavailable

    real = builtins.__import__

    def no_pyttsx3(name, *a, **k):
        if name == "pyttsx3":
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_pyttsx3)
    with pytest.raises(VoiceUnavailable, match=r"pip install 'gait-lumbar\[voice\]'"):
        Speaker(language="en")
