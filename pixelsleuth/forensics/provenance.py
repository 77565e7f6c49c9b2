"""Provenance: C2PA Content Credentials and the IPTC DigitalSourceType.

A C2PA manifest is a signed statement of where an image came from. Its validation is reported
in three separate states, because they mean different things to a reader:

- ``valid-trusted``: the signature checks out and the signer chains to a trust anchor you
  configured (``Settings.c2pa_trust_anchors`` or ``ProvenanceAnalyzer(trust_anchors=...)``);
- ``valid-untrusted``: the signature and content hashes check out, but anyone can make such a
  signer — the claims are only as good as whoever signed them;
- ``tampered``: the content or the manifest changed after signing.
"""

from __future__ import annotations

import io
import json
from enum import Enum
from typing import Any

from pixelsleuth.analyzers import Analyzer, register
from pixelsleuth.forensics.formats.parsed import parsed_metadata
from pixelsleuth.imageio import LoadedImage
from pixelsleuth.report import Direction, Evidence, Finding
from pixelsleuth.settings import Settings

IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"

# IPTC Digital Source Type codes -> (direction, plain-words meaning)
SOURCE_TYPES: dict[str, tuple[Direction, str]] = {
    "trainedAlgorithmicMedia": (Direction.AI, "created by a generative AI model"),
    "compositeWithTrainedAlgorithmicMedia": (
        Direction.AI,
        "a composite that includes generative-AI content",
    ),
    "algorithmicMedia": (Direction.AI, "created by an algorithm without camera input"),
    "compositeSynthetic": (Direction.EDITED, "a composite including synthetic elements"),
    "composite": (Direction.EDITED, "a composite of several images"),
    "algorithmicallyEnhanced": (Direction.EDITED, "a photo enhanced by an algorithm"),
    "minorHumanEdits": (Direction.EDITED, "a photo with minor human edits"),
    "digitalArt": (Direction.NEUTRAL, "digital art made by a person"),
    "digitalCapture": (Direction.CAMERA, "captured by a digital camera"),
    "computationalCapture": (
        Direction.CAMERA,
        "captured by a camera with computational processing",
    ),
    "negativeFilm": (Direction.CAMERA, "scanned from a film negative"),
    "positiveFilm": (Direction.CAMERA, "scanned from film"),
    "print": (Direction.CAMERA, "scanned from a print"),
    "screenCapture": (Direction.NEUTRAL, "a screen capture"),
    "dataDrivenMedia": (Direction.NEUTRAL, "made from data"),
    "virtualRecording": (Direction.NEUTRAL, "a recording of a virtual event"),
}

# Validation codes that mean the bytes or the manifest changed after signing
TAMPER_CODES = {
    "assertion.dataHash.mismatch",
    "assertion.bmffHash.mismatch",
    "assertion.boxesHash.mismatch",
    "assertion.collectionHash.mismatch",
    "assertion.hashedURI.mismatch",
    "claimSignature.mismatch",
}

MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "tiff": "image/tiff"}


class C2paState(str, Enum):
    NONE = "none"
    TRUSTED = "valid-trusted"
    UNTRUSTED = "valid-untrusted"
    TAMPERED = "tampered"
    INVALID = "invalid"  # signed, but the credential is bad (expired, revoked, malformed)
    UNREADABLE = "unreadable"


def source_type_code(value: Any) -> str | None:
    """'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia' -> the code."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().rstrip("/").rsplit("/", 1)[-1]


def read_c2pa(data: bytes, mime: str, trust_anchors: str | None = None) -> dict[str, Any]:
    """Read and validate an embedded C2PA manifest store with c2pa-python; never raises."""
    try:
        import c2pa
    except ImportError:  # pragma: no cover - a declared dependency
        return {"state": C2paState.UNREADABLE, "error": "c2pa-python is not installed"}
    try:
        context = None
        if trust_anchors:
            context = c2pa.Context(
                settings=c2pa.Settings.from_dict({"trust": {"trust_anchors": trust_anchors}})
            )
        with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
            store = json.loads(reader.json())
            state = str(reader.get_validation_state() or "")
            results = reader.get_validation_results() or {}
    except Exception as exc:
        text = str(exc)
        if "ManifestNotFound" in type(exc).__name__ or "not found" in text.lower():
            return {"state": C2paState.NONE}
        return {"state": C2paState.UNREADABLE, "error": text[:200] or "unreadable"}
    active = results.get("activeManifest", {}) if isinstance(results, dict) else {}
    failures = [f.get("code") for f in active.get("failure", []) if isinstance(f, dict)]
    if state == "Trusted":
        status = C2paState.TRUSTED
    elif any(code in TAMPER_CODES for code in failures):
        status = C2paState.TAMPERED
    elif state == "Valid":
        status = C2paState.UNTRUSTED
    else:
        status = C2paState.INVALID
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    return {"state": status, "failures": failures, "sdk_state": state, **_summarise(manifest)}


def _summarise(manifest: dict[str, Any]) -> dict[str, Any]:
    gen_info = manifest.get("claim_generator_info") or []
    generators = [
        " ".join(str(g.get(k, "")) for k in ("name", "version")).strip()
        for g in gen_info
        if isinstance(g, dict)
    ]
    actions: list[dict[str, Any]] = []
    source_types: list[str] = []
    for assertion in manifest.get("assertions", []):
        label = str(assertion.get("label", ""))
        data = assertion.get("data") if isinstance(assertion.get("data"), dict) else {}
        if label.startswith("c2pa.actions"):
            for act in data.get("actions", []):
                if not isinstance(act, dict):
                    continue
                actions.append(
                    {
                        "action": act.get("action"),
                        "software": (act.get("softwareAgent") or {}).get("name")
                        if isinstance(act.get("softwareAgent"), dict)
                        else act.get("softwareAgent"),
                        "digital_source_type": source_type_code(act.get("digitalSourceType")),
                    }
                )
                code = source_type_code(act.get("digitalSourceType"))
                if code:
                    source_types.append(code)
    sig = manifest.get("signature_info") or {}
    return {
        "claim_generator": ", ".join(generators) or manifest.get("claim_generator"),
        "title": manifest.get("title"),
        "signer": sig.get("common_name") or sig.get("issuer"),
        "issuer": sig.get("issuer"),
        "signed_at": sig.get("time"),
        "actions": actions,
        "digital_source_types": source_types,
        "ingredients": len(manifest.get("ingredients", []) or []),
    }


def _state_evidence(state: C2paState, c2pa_info: dict[str, Any]) -> Evidence | None:
    """What the credentials' state says by itself (None: there are none)."""
    signer = c2pa_info.get("signer") or "an unknown signer"
    if state is C2paState.TRUSTED:
        return Evidence(
            "c2pa_trusted",
            f"Valid Content Credentials signed by {signer}, a signer you trust.",
            Direction.NEUTRAL,
            0.0,
        )
    if state is C2paState.UNTRUSTED:
        return Evidence(
            "c2pa_untrusted",
            f"Content Credentials signed by {signer}: the "
            "signature and content hashes are intact, but the signer is not on "
            "your trust list, so anyone could have made them.",
            Direction.NEUTRAL,
            0.0,
        )
    if state is C2paState.TAMPERED:
        return Evidence(
            "c2pa_tampered",
            "The Content Credentials no longer match the file: "
            "the image or its manifest was changed after signing.",
            Direction.EDITED,
            0.85,
        )
    if state is C2paState.INVALID:
        return Evidence(
            "c2pa_invalid",
            "Content Credentials are present but their signature "
            f"does not validate ({', '.join(c2pa_info.get('failures', [])[:3])}).",
            Direction.EDITED,
            0.4,
        )
    if state is C2paState.UNREADABLE:
        where = c2pa_info.get("container", "the file")
        return Evidence(
            "c2pa_unreadable",
            f"A Content Credentials block is present ({where}) but is corrupt or "
            "damaged and could not be read: credentials that cannot be checked "
            "vouch for nothing.",
            Direction.EDITED,
            0.2,
        )
    return None


@register
class ProvenanceAnalyzer(Analyzer):
    name = "provenance"
    title = "Provenance (C2PA Content Credentials)"
    explains = (
        "Content Credentials are a signed record of an image's origin and edits; a valid one is "
        "strong evidence of what the signer claims, but most images carry none, and a missing "
        "credential proves nothing."
    )
    needs_pixels = False
    order = 30

    def __init__(self, trust_anchors: str | None = None) -> None:
        self.trust_anchors = trust_anchors  # PEM text of the certificates to trust

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> ProvenanceAnalyzer:
        return cls(settings.trust_anchor_pem(), **options)

    def analyze(self, image: LoadedImage) -> Finding:
        meta = parsed_metadata(image)
        c2pa_info = self._credentials(image, meta)
        details: dict[str, Any] = {"c2pa": c2pa_info}
        state: C2paState = c2pa_info["state"]
        found = _state_evidence(state, c2pa_info)
        evidence: list[Evidence] = [] if found is None else [found]
        valid = state in (C2paState.TRUSTED, C2paState.UNTRUSTED)
        for code in dict.fromkeys(c2pa_info.get("digital_source_types", [])):
            evidence.append(
                self._source_type(
                    code, f"the C2PA manifest ({state.value})", valid, state is C2paState.TRUSTED
                )
            )
        xmp_type = source_type_code(meta.xmp.get("Iptc4xmpExt:DigitalSourceType"))
        details["iptc_digital_source_type"] = xmp_type
        if xmp_type:
            evidence.append(
                self._source_type(xmp_type, "the XMP metadata (unsigned)", False, False)
            )
        decisive = [e for e in evidence if e.direction is not Direction.NEUTRAL]
        score = None
        if decisive:
            top = max(decisive, key=lambda e: e.strength)
            score = (
                0.5 + 0.5 * top.strength
                if top.direction is not Direction.CAMERA
                else 0.5 - 0.5 * top.strength
            )
        return Finding(
            analyzer=self.name,
            summary=self._summary(state, evidence, c2pa_info),
            score=None if score is None else round(score, 4),
            evidence=evidence,
            details=details,
        )

    def _credentials(self, image: LoadedImage, meta: Any) -> dict[str, Any]:
        """What the C2PA SDK reads of the file's Content Credentials ({"state": NONE}
        without any); a block the SDK finds no store in is damaged, not absent."""
        if not meta.containers.c2pa_container:
            return {"state": C2paState.NONE}
        mime = MIME.get(meta.containers.kind, "application/octet-stream")
        info = read_c2pa(image.data, mime, self.trust_anchors)
        info["container"] = meta.containers.c2pa_container
        if info["state"] is C2paState.NONE:
            info = {
                **info,
                "state": C2paState.UNREADABLE,
                "error": "the manifest store in it cannot be parsed",
            }
        return info

    @staticmethod
    def _source_type(code: str, where: str, signed: bool, trusted: bool) -> Evidence:
        direction, meaning = SOURCE_TYPES.get(code, (Direction.NEUTRAL, f"of type '{code}'"))
        # A declaration of AI is an admission and is believed even unsigned; a claim of camera
        # capture is worth only what its signature is worth.
        if direction is Direction.AI:
            strength = 0.98 if signed else 0.85
        elif direction is Direction.CAMERA:
            strength = 0.8 if trusted else 0.3 if signed else 0.1
        elif direction is Direction.EDITED:
            strength = 0.7 if signed else 0.5
        else:
            strength = 0.0
        return Evidence(
            "digital_source_type",
            f"{where[0].upper()}{where[1:]} declares the image {meaning} "
            f"(IPTC DigitalSourceType '{code}').",
            direction,
            strength,
        )

    @staticmethod
    def _summary(state: C2paState, evidence: list[Evidence], info: dict[str, Any]) -> str:
        declared = next((e for e in evidence if e.code == "digital_source_type"), None)
        if state is C2paState.NONE:
            if declared:
                return declared.message + " No Content Credentials back this up."
            return (
                "No Content Credentials (C2PA) are attached; most images have none, so this "
                "proves nothing."
            )
        head = {
            C2paState.TRUSTED: "Valid Content Credentials from a trusted signer",
            C2paState.UNTRUSTED: "Valid Content Credentials, but from a signer that is not trusted",
            C2paState.TAMPERED: (
                "Content Credentials are present but the file was altered after signing"
            ),
            C2paState.INVALID: "Content Credentials are present but do not validate",
            C2paState.UNREADABLE: (
                "A Content Credentials block is present but corrupt or damaged: it could not "
                "be read"
            ),
        }[state]
        made_by = f" (made with {info['claim_generator']})" if info.get("claim_generator") else ""
        tail = f"; {declared.message[0].lower()}{declared.message[1:]}" if declared else "."
        return f"{head}{made_by}{tail}"
