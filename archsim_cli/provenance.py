"""Which profile priced an answer, and where it comes from, for every face's output."""

from __future__ import annotations


def priced_by(device, options) -> dict[str, str]:
    """{"profile": name, "profile_origin": fitted on this device, or transferred from which
    one} for the profile `options` price `device` with."""
    p = options.profile_for(device)
    return {"profile": p.name, "profile_origin": p.origin}


def say_priced_by(device, options) -> None:
    print(f"priced with profile: {priced_by(device, options)['profile_origin']}")
