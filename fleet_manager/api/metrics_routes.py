"""Placeholder: the metrics routes are being written."""

from __future__ import annotations

from fastapi import APIRouter

from fleet_manager.api.context import AppContext


def router(ctx: AppContext) -> APIRouter:
    return APIRouter()
