"""Placeholder: the fleet pages are being written."""

from __future__ import annotations

from fastapi import APIRouter

from fleet_manager.api.context import AppContext


def router(ctx: AppContext) -> APIRouter:
    return APIRouter(include_in_schema=False)
