"""Agreement statistics and reference extraction."""

from __future__ import annotations

import numpy as np
import pytest

from gait.evaluation import agreement, com_excursion_from_force, force_plate_contacts, match_events


class TestMatchEvents:
    def test_empty(self):
        m = match_events(np.zeros(0), np.array([1.0]))
        assert m.true_positives == 0 and m.recall == 0 and np.isnan(m.precision)

    def test_one_to_one_within_tolerance(self):
        m = match_events(np.array([1.0, 1.01, 2.05, 3.0]), np.array([1.005, 2.0, 3.02]), tolerance_s=0.04)
        assert sorted(zip(m.detected_idx.tolist(), m.reference_idx.tolist())) == [(0, 0), (3, 2)]
        assert m.precision == 0.5 and m.recall == pytest.approx(2 / 3)
        assert m.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_agreement():
    ag = agreement(np.array([1.0, 2.0, 3.0, np.nan]), np.array([0.0, 2.0, 2.0, 1.0]))
    assert ag["n"] == 3 and ag["bias"] == pytest.approx(2 / 3) and ag["mae"] == pytest.approx(2 / 3)
    sd = np.std([1.0, 0.0, 1.0], ddof=1)
    assert ag["loa_high"] == pytest.approx(2 / 3 + 1.96 * sd)


class TestForcePlate:
    def synthetic(self):
        fs = 500.0
        t = np.arange(0, 3.0, 1 / fs)
        f = np.zeros_like(t)
        contacts = [(0.3, 0.55), (0.9, 1.15), (1.5, 1.75), (2.1, 2.35)]
        for a, b in contacts:
            m = (t >= a) & (t < b)
            f[m] = 2.5 * np.sin(np.pi * (t[m] - a) / (b - a))
        f[(t > 0.6) & (t < 0.605)] = 0.06  # chatter in flight
        return f, fs, np.array(contacts)

    def test_contacts(self):
        f, fs, truth = self.synthetic()
        c = force_plate_contacts(f, fs)
        assert c.shape == (4, 2)
        # 0.05 BW is crossed within 3.2 ms of the sine's true start and end
        np.testing.assert_allclose(c, truth, atol=0.0035)

    def test_edges_excluded(self):
        f, fs, _ = self.synthetic()
        assert force_plate_contacts(f[int(0.4 * fs) :], fs).shape[0] == 3

    def test_com_excursion_of_a_spring_mass_step(self):
        """Half-sine contact with impulse = body weight x step time: the closed-form excursion."""
        fs, T, tc = 2000.0, 0.36, 0.25
        amp = np.pi * T / (2 * tc)  # body weights
        t = np.arange(0, 3 * T, 1 / fs)
        tau = t % T
        f = np.where(tau < tc, amp * np.sin(np.pi * tau / tc), 0.0)
        ex = com_excursion_from_force(f, fs, np.array([0.0, T, 2 * T]))
        # numerical double integral of the same model on a fine grid
        from gait.constants import G

        tt = np.linspace(0, T, 200001)
        a = (np.where(tt < tc, amp * np.sin(np.pi * tt / tc), 0.0) - 1) * G
        v = np.concatenate([[0], np.cumsum((a[1:] + a[:-1]) / 2 * np.diff(tt))])
        v -= np.trapezoid(v, tt) / T
        z = np.concatenate([[0], np.cumsum((v[1:] + v[:-1]) / 2 * np.diff(tt))])
        np.testing.assert_allclose(ex, z.max() - z.min(), atol=2e-5)


class TestForcePlatePreRinging:
    """A treadmill force low-passed forward and backward can ring ahead of a steep landing: a
    bump above 0.05 body weights about 20 ms before the rise, then a dip below zero (recorded in
    three of the 19 Alcantara et al. 2022 trials). The bump is not a contact."""

    def test_ring_before_the_landing_is_not_a_contact(self):
        fs = 500.0
        t = np.arange(0, 3.0, 1 / fs)
        f = np.zeros_like(t)
        truth = np.array([(0.4, 0.62), (1.0, 1.22), (1.6, 1.82), (2.2, 2.42)])
        for a, b in truth:
            m = (t >= a) & (t < b)
            f[m] = 2.3 * np.sin(np.pi * (t[m] - a) / (b - a))
            # the recorded pattern: +0.06 BW 18 ms before, -0.055 BW 6 ms before the rise
            f += 0.06 * np.exp(-((((t - a) + 0.018) / 0.005) ** 2)) - 0.055 * np.exp(
                -((((t - a) + 0.006) / 0.003) ** 2)
            )
        c = force_plate_contacts(f, fs)
        assert c.shape == (4, 2)
        np.testing.assert_allclose(c, truth, atol=0.004)
        # without hysteresis the bump starts the contact about 20 ms early (the previous behaviour)
        early = force_plate_contacts(f, fs, hysteresis_bw=0.0)[:, 0] - truth[:, 0]
        assert (early < -0.015).all()
