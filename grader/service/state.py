"""What the running service holds: settings, the store, the bank and the course's assignments, the
dispatcher, rate limits, and the clock the assignments' windows are read by (a test sets it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank
from grader.courses.catalog import Catalog
from grader.service.dispatch import Dispatcher
from grader.service.ratelimit import RateLimiter
from grader.service.settings import ServiceSettings
from grader.service.views import utc_now


@dataclass
class ServiceState:
    settings: ServiceSettings
    sessions: sessionmaker[Session]
    bank: Bank
    dispatcher: Dispatcher
    catalog: Catalog = field(default_factory=Catalog)
    clock: Callable[[], datetime] = utc_now
    student_limits: RateLimiter = field(init=False)
    client_limits: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.student_limits = RateLimiter(s.student_rate, s.student_burst)
        self.client_limits = RateLimiter(s.client_rate, s.client_burst)
