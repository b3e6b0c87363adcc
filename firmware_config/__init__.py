"""The Pi image's configuration, rendered from one validated device profile.

``load_profile(path)`` → :class:`Profile` (or :class:`ProfileError` naming file and field);
``render(profile)`` → ``{relative path: bytes}`` (pure); ``write_boot_folder(profile, out)``
writes them, secrets 0600. See ``firmware_config/README.md`` for flashing a kiosk.
"""

from firmware_config.boot_files import SECRET_FILES, render
from firmware_config.boot_folder import write_boot_folder
from firmware_config.profile import (
    Profile,
    ProfileError,
    check_profile,
    load_profile,
    parse_profile,
    profile_warnings,
)

__all__ = [
    "SECRET_FILES",
    "Profile",
    "ProfileError",
    "check_profile",
    "load_profile",
    "parse_profile",
    "profile_warnings",
    "render",
    "write_boot_folder",
]
