"""What the running service holds: settings, the store, the bank, the dispatcher, rate limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank
from grader.service.dispatch import Dispatcher
from grader.service.ratelimit import RateLimiter
from grader.service.settings import ServiceSettings


@dataclass
class ServiceState:
    settings: ServiceSettings
    sessions: sessionmaker[Session]
    bank: Bank
    dispatcher: Dispatcher
    student_limits: RateLimiter = field(init=False)
    client_limits: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.student_limits = RateLimiter(s.student_rate, s.student_burst)
        self.client_limits = RateLimiter(s.client_rate, s.client_burst)
