"""Label minting and rendering, next to their floor measured in the same run.

Prints the QR version and byte size of a typical label, then per-second rates of:
  raw Ed25519 sign (cryptography) · bare QR render of the same text (qrcode -> PNG)
  mint (CBOR + COSE_Sign1 + Base45) · mint + QR PNG · mint + the full HJ 1276 label as PNG
  (300 and 203 dpi), SVG and ZPL (the printer encodes the QR itself)
and the ratio of each "mint + render" to "bare QR render + one signature" (target <= 1.5).
The 150 mm label of a 200 L drum is used (3.1 Mpx at 300 dpi).

    .venv/bin/python bench/bench_labels.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import qrcode
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from qrcode.util import MODE_ALPHA_NUM, QRData

from custody import _base45
from custody.containers import ContainerType, PhysicalForm
from custody.digital_id import DigitalId
from custody.keys import KeyRole, SigningKey
from custody.wastes import Hazard
from labels import render
from labels.payload import PREFIX, LabelPayload, mint
from labels.printed import PrintedLabel

if TYPE_CHECKING:
    from collections.abc import Callable

GENERATOR = "91510100MA61R8XQ02"


def per_call_ms(fns: dict[str, Callable[[int], object]], seconds: float) -> dict[str, float]:
    """Median milliseconds per call of each function.

    The functions take turns in short rounds, so a load change on the machine hits all of
    them alike and the ratios stay fair.
    """
    samples: dict[str, list[float]] = {name: [] for name in fns}
    counter = 0
    for fn in fns.values():  # warm caches and imports
        fn(counter)
        counter += 1
    deadline = time.perf_counter() + seconds * len(fns)
    while time.perf_counter() < deadline or min(len(v) for v in samples.values()) < 5:
        for name, fn in fns.items():
            calls, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < 0.05 or calls < 1:
                fn(counter)
                counter += 1
                calls += 1
            samples[name].append(elapsed * 1000 / calls)
    return {name: statistics.median(v) for name, v in samples.items()}


def main() -> None:  # noqa: C901  # a flat list of benchmark cases reads best in one place
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()

    start = datetime(2026, 1, 1, tzinfo=UTC)
    key = SigningKey.from_private(
        Ed25519PrivateKey.from_private_bytes(bytes(range(32))),
        name=f"{GENERATOR}/label-issuer/1",
        owner=GENERATOR,
        role=KeyRole.LABEL_ISSUER,
        valid_from=start,
        valid_until=start.replace(year=2027),
    )

    def payload(i: int) -> LabelPayload:
        return LabelPayload(
            digital_id=DigitalId(GENERATOR, "900-249-08", date(2026, 3, 5), 1 + i % 999),
            edition="2021",
            hazards=frozenset({Hazard.TOXICITY, Hazard.IGNITABILITY}),
            form=PhysicalForm.LIQUID,
            issued_at=datetime(2026, 3, 5, 8, 30, tzinfo=UTC),
            net_mass_g=182_500 + i,
            container_type=ContainerType.DRUM,
            seal_no=f"S-{i:06d}",
        )

    def printed(text: str, i: int) -> PrintedLabel:
        p = payload(i)
        return PrintedLabel(
            qr_text=text, digital_id=p.digital_id.text, waste_name="废机油", category="HW08",
            category_name="废矿物油与含矿物油废物", waste_code="900-249-08", form="L",
            hazards=("T", "I"), main_components="矿物油", harmful_components="多环芳烃",
            precautions="远离火源，防止泄漏", generator_name="成都蓉新化工有限公司",
            generator_contact="张工 028-12345678", generated_on=date(2026, 3, 5),
            net_mass_kg=182.5, capacity_l=200,
        )  # fmt: skip

    typical = mint(payload(0), key)
    cose = _base45.b45decode(typical[len(PREFIX) :])
    symbol = render.qr_code(typical)
    print(f"typical label: payload {len(payload(0).to_cbor())} B, COSE_Sign1 {len(cose)} B, "
          f"text {len(typical)} chars -> QR version {symbol.version} at ECC {symbol.ecc} "
          f"({17 + 4 * symbol.version} x {17 + 4 * symbol.version} modules)")  # fmt: skip

    message = payload(0).to_cbor()

    def sign(_: int) -> object:
        return key.sign(message)

    def bare_qr(_: int) -> object:
        # qrcode's own defaults (10 px modules, 4-module border), ECC Q, alphanumeric mode.
        image = qrcode.make(
            QRData(typical, mode=MODE_ALPHA_NUM),
            error_correction=qrcode.constants.ERROR_CORRECT_Q,
        )
        buffer = io.BytesIO()
        image.save(buffer)
        return buffer

    def mint_only(i: int) -> object:
        return mint(payload(i), key)

    def mint_qr_png(i: int) -> object:
        return render.qr_png(mint(payload(i), key))

    def mint_label_png(i: int) -> object:
        return render.render_png(printed(mint(payload(i), key), i))

    def mint_label_png_203(i: int) -> object:
        return render.render_png(printed(mint(payload(i), key), i), dpi=203)

    def mint_label_svg(i: int) -> object:
        return render.render_svg(printed(mint(payload(i), key), i))

    def mint_label_zpl(i: int) -> object:
        return render.render_zpl(printed(mint(payload(i), key), i))

    cost = per_call_ms({"raw Ed25519 sign": sign, "bare QR render (qrcode.make, PNG)": bare_qr,
        "mint": mint_only, "mint + QR PNG": mint_qr_png,
        "mint + HJ 1276 label PNG (300 dpi)": mint_label_png,
        "mint + HJ 1276 label PNG (203 dpi)": mint_label_png_203,
        "mint + HJ 1276 label SVG": mint_label_svg,
        "mint + HJ 1276 label ZPL": mint_label_zpl}, args.seconds)  # fmt: skip
    for name, ms in cost.items():
        print(f"{name:<40} {1000 / ms:>10,.0f} /s   {ms:8.3f} ms")

    floor_ms = cost["bare QR render (qrcode.make, PNG)"] + cost["raw Ed25519 sign"]
    for name in list(cost)[3:]:
        ratio = cost[name] / floor_ms
        print(f"{name} / (bare QR render + one signature) = {ratio:.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
