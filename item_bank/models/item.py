"""Items of the bank, their lifecycle and their exposure counts."""

from __future__ import annotations

import datetime as dt
import enum
import math
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    func,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..errors import InvalidInput
from ..messages import Notice
from .base import Base
from .program import ContentTag, Materi


class ItemStatus(enum.StrEnum):
    DRAFT = "draft"
    REVIEWED = "reviewed"
    PRETEST = "pretest"
    OPERATIONAL = "operational"
    RETIRED = "retired"


# RULE: SPEC.md "Item lifecycle" — draft -> reviewed -> pretest -> (calibrated) -> operational
# -> retired.  A reviewer may send an item back to draft; any live item may be retired (leaked,
# drifted, misfitting); retired is terminal.  Calibration is the step pretest -> operational,
# so it requires parameters.
ITEM_TRANSITIONS: dict[ItemStatus, frozenset[ItemStatus]] = {
    ItemStatus.DRAFT: frozenset({ItemStatus.REVIEWED, ItemStatus.RETIRED}),
    ItemStatus.REVIEWED: frozenset({ItemStatus.DRAFT, ItemStatus.PRETEST, ItemStatus.RETIRED}),
    ItemStatus.PRETEST: frozenset({ItemStatus.OPERATIONAL, ItemStatus.RETIRED}),
    ItemStatus.OPERATIONAL: frozenset({ItemStatus.RETIRED}),
    ItemStatus.RETIRED: frozenset(),
}




# RULE: SPEC.md "Item lifecycle" for imported items — a new item enters as draft, the start of
# the lifecycle.  It may enter as operational only when it carries calibrated a and b and the
# importer was allowed to put it there (an administrator in the browser, the operator's
# --allow-operational on the command line: a bank calibrated on this scale elsewhere), and as
# pretest only when it carries a and b and the writer asked for it (a question file from
# another platform with its parameters: item_bank.exchange).  Any other status would skip the
# review and pretest steps.  An existing item's status changes by ITEM_TRANSITIONS, as on the
# status route (Item.transition).
def entry_status(status: str | None, *, a: float | None, b: float | None,
                 allow_operational: bool, allow_pretest: bool = False) -> ItemStatus:
    """The status a new item is imported with; ValueError when ``status`` may not be one."""
    wanted = ItemStatus.DRAFT if status is None or not str(status).strip() else None
    if wanted is None:
        try:
            wanted = ItemStatus(str(status).strip().lower())
        except ValueError:
            raise ValueError(f"unknown item status {status!r}") from None
    if wanted == ItemStatus.DRAFT:
        return wanted
    allowed = {ItemStatus.OPERATIONAL: allow_operational, ItemStatus.PRETEST: allow_pretest}
    if wanted not in allowed or (wanted == ItemStatus.PRETEST and not allow_pretest):
        raise ValueError(f"a new item enters as draft, not {wanted.value}; set its status to "
                         "draft or leave it out")
    if a is None or b is None:
        article = "an" if wanted == ItemStatus.OPERATIONAL else "a"
        raise ValueError(f"{article} {wanted.value} item needs calibrated parameters a and b")
    if not allowed[wanted]:
        raise ValueError("a new item enters as draft; importing it as operational must be "
                         "allowed (an administrator's choice, --allow-operational)")
    return wanted


class IrtModel(enum.StrEnum):
    ONE_PL = "1pl"
    TWO_PL = "2pl"
    THREE_PL = "3pl"


# Plausible ranges for operational parameters (logistic metric, D = 1): anything outside is a
# calibration failure or a typing error, not an item we want to administer.
A_RANGE = (0.05, 5.0)
B_RANGE = (-6.0, 6.0)
C_RANGE = (0.0, 0.5)


def validate_item_fields(
    *, options: list[Any], key: int, model: str, a: float | None, b: float | None,
    c: float | None, status: str,
) -> None:
    """Raise ValueError naming the first problem of an item's content or parameters."""
    if not isinstance(options, list) or len(options) < 2:
        raise ValueError("an item needs a list of at least 2 options")
    if any(not isinstance(o, str) or not o.strip() for o in options):
        raise ValueError("every option must be a non-empty text")
    if len(set(options)) != len(options):
        raise ValueError("options must be distinct")
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < len(options):
        raise ValueError(f"key {key!r} is not among the options (0..{len(options) - 1})")
    try:
        IrtModel(model)
    except ValueError:
        raise ValueError(f"unknown IRT model {model!r} (use 1pl, 2pl or 3pl)") from None
    try:
        ItemStatus(status)
    except ValueError:
        raise ValueError(f"unknown item status {status!r}") from None
    params = {"a": a, "b": b, "c": c}
    for name, value in params.items():
        if value is not None and not math.isfinite(value):
            raise ValueError(f"parameter {name} must be a finite number")
    if status == ItemStatus.OPERATIONAL and (a is None or b is None):
        raise ValueError("an operational item needs calibrated parameters a and b")
    for name, (low, high) in (("a", A_RANGE), ("b", B_RANGE), ("c", C_RANGE)):
        value = params[name]
        if value is not None and not low <= value <= high:
            raise ValueError(f"parameter {name}={value} out of range [{low}, {high}]")
    if model == IrtModel.ONE_PL and a is not None and a != 1.0:
        raise ValueError("a 1pl item has a = 1")
    if model != IrtModel.THREE_PL and c not in (None, 0.0):
        raise ValueError(f"a {model} item has c = 0; use 3pl for a guessing parameter")


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("program_id", "code"),
        # An exam's pool is read by (program, status, materi).  The included columns served
        # the aggregate (count, id sum, last update) that once told whether a cached pool was
        # current, with an index-only scan; PoolVersion does that job now (migration 0004).
        Index("ix_item_pool", "program_id", "status", "materi_id",
              postgresql_include=["id", "updated_at"]),
        CheckConstraint("answer_key >= 0", name="key_nonnegative"),
        CheckConstraint("a IS NULL OR a > 0", name="a_positive"),
        CheckConstraint("c IS NULL OR (c >= 0 AND c < 1)", name="c_range"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("p_guess IS NULL OR (p_guess > 0 AND p_guess < 1)",
                        name="p_guess_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"))
    code: Mapped[str] = mapped_column(String(64))
    materi_id: Mapped[int] = mapped_column(ForeignKey("materi.id"), index=True)
    content_tag_id: Mapped[int | None] = mapped_column(ForeignKey("content_tag.id"))
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any]]
    key: Mapped[int] = mapped_column("answer_key")
    model: Mapped[IrtModel] = mapped_column(
        Enum(IrtModel, native_enum=False, length=8, values_callable=lambda e: [m.value for m in e]),
        default=IrtModel.TWO_PL,
    )
    a: Mapped[float | None]
    b: Mapped[float | None]
    c: Mapped[float | None]
    se_a: Mapped[float | None]
    se_b: Mapped[float | None]
    se_c: Mapped[float | None]
    status: Mapped[ItemStatus] = mapped_column(
        Enum(ItemStatus, native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e]),
        default=ItemStatus.DRAFT, index=True,
    )
    version: Mapped[int] = mapped_column(default=1)
    # The version of a, b, c in force (ItemParameters); None while the item has none.
    param_version: Mapped[int | None]
    author: Mapped[str] = mapped_column(String(120), default="")
    # Where an imported item came from ("moodle: bank.xml, question 3 'Pajak 1'"); empty for
    # an item written in the product.
    source: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # How many images follow the stem (ItemImage 1..n); read with the stem and options, so
    # the participant's view names their addresses without another query.
    image_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # RULE: docs/item_bank.md "Item families" — the template an item is a variant of, as its
    # writer names it: items of one program with the same name are one family.
    family: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # The least item id of the item's family joined by its enemies (ItemEnemy), None when the
    # item is alone: a participant gets at most one item of it in the program.  Kept by
    # item_bank.families, never typed.
    family_id: Mapped[int | None] = mapped_column(index=True)
    # RULE: docs/item_bank.md "Cold start" — the writer's guess of the share of participants
    # who answer right (easy 0.8, medium 0.55, hard 0.3): an item without parameters that has
    # one may become operational with provisional parameters from it.
    p_guess: Mapped[float | None]
    # The parameters in force are provisional (from p_guess) until a calibration replaces them:
    # the exams of a pool with such items are LOFT forms scored by proportion correct.
    provisional: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(),
                                                    onupdate=func.now())

    materi: Mapped[Materi] = relationship()
    content_tag: Mapped[ContentTag | None] = relationship()

    def transition(self, new_status: ItemStatus | str) -> None:
        """Move along the lifecycle; ValueError for a transition the table does not allow.

        RULE: docs/item_bank.md "Cold start" — an item made operational without parameters
        but with the writer's guess ``p_guess`` gets provisional ones from it
        (:func:`provisional_parameters`)."""
        refusal = self.transition_refusal(new_status)
        if refusal is not None:
            raise InvalidInput(refusal.code, **refusal.params)
        self.status = ItemStatus(new_status)
        if self.status == ItemStatus.OPERATIONAL and (self.a is None or self.b is None):
            self.model = IrtModel.TWO_PL
            self.a, self.b, self.c = 1.0, provisional_parameters(self.p_guess), 0.0
            self.se_a = self.se_b = self.se_c = None
            self.provisional = True
            parameters_set_by(self, "writer rating")
        self.version += 1

    def transition_refusal(self, new_status: ItemStatus | str) -> Notice | None:
        """Why the item cannot move to ``new_status`` now (None: it can)."""
        try:
            new_status = ItemStatus(new_status)
        except ValueError:
            return Notice("item_status_unknown", {"status": repr(str(new_status))})
        if new_status not in ITEM_TRANSITIONS[self.status]:
            return Notice("item_transition_refused",
                          {"item": self.code, "current": self.status, "status": new_status})
        if new_status == ItemStatus.OPERATIONAL and (self.a is None or self.b is None) \
                and (self.p_guess is None or self._materi_calibrated()):
            return Notice("item_not_calibrated", {"item": self.code})
        return None

    def _materi_calibrated(self) -> bool:
        """Whether the item's materi has calibrated operational items: then a writer's rating
        is no way in (the bank is past its cold start; calibrate the item instead)."""
        session = Session.object_session(self)
        if session is None:
            return False
        return session.scalar(select(Item.id).where(
            Item.materi_id == self.materi_id, Item.status == ItemStatus.OPERATIONAL,
            Item.provisional.is_(False)).limit(1)) is not None

    def allowed_moves(self) -> list[ItemStatus]:
        """The statuses the item can move to now, in lifecycle order."""
        return [s for s in ItemStatus if self.transition_refusal(s) is None]


class ItemParameters(Base):
    """Every set of parameters an item has had, numbered from 1: who set them, when and how
    (an import, a writer's edit, a calibration run).  Kept when new ones replace them, so a
    result scored with an old version can be explained and reproduced after a recalibration
    (each response stores the version it was selected and scored with)."""

    __tablename__ = "item_parameters"
    __table_args__ = (UniqueConstraint("item_id", "version"),
                      CheckConstraint("version >= 1", name="version_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))  # first column of the key
    version: Mapped[int]
    model: Mapped[str] = mapped_column(String(8))
    a: Mapped[float | None]
    b: Mapped[float | None]
    c: Mapped[float | None]
    se_a: Mapped[float | None]
    se_b: Mapped[float | None]
    se_c: Mapped[float | None]
    actor: Mapped[str] = mapped_column(String(120), default="")
    run_id: Mapped[int | None]  # the calibration run (audit_log id) they come from
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    item: Mapped[Item] = relationship()


class ItemEnemy(Base):
    """Two items a writer marked as enemies: one gives away the other, so no participant gets
    both (they join one family, Item.family_id).  Stored once per pair, lower id first."""

    __tablename__ = "item_enemy"
    __table_args__ = (UniqueConstraint("item_id", "enemy_id"),
                      CheckConstraint("item_id < enemy_id", name="ordered_pair"))

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))  # first column of the key
    enemy_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    actor: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


PARAMETER_FIELDS = ("model", "a", "b", "c", "se_a", "se_b", "se_c")


# The normal-ogive scale of the logistic: P(theta) = 1 / (1 + exp(-a (theta - b))) is close to
# Phi(a (theta - b) / D) with D = 1.702 (Haley, 1952).
_D = 1.702


def provisional_parameters(p_guess: float) -> float:
    """The provisional b of an item with a = 1 whose share of right answers in a N(0, 1)
    population is ``p_guess``.

    With the normal-ogive approximation, ``P(right) = Phi(-b / sqrt(D^2 / a^2 + 1))`` over
    theta ~ N(0, 1) (Lord & Novick, 1968, 16.9), so

    .. math:: b = -\\Phi^{-1}(p)\\, \\sqrt{D^2 + 1}, \\quad a = 1.
    """
    from scipy.special import ndtri

    return float(-ndtri(p_guess) * math.sqrt(_D ** 2 + 1))


def parameters_set_by(item: Item, actor: str, run_id: int | None = None) -> None:
    """Name who sets the item's next parameters (and the calibration run), for their history
    entry written at the flush."""
    item.__dict__["_parameter_source"] = (actor, run_id)


@event.listens_for(Session, "before_flush")
def _parameter_history(session: Session, _context: Any, _instances: Any) -> None:
    """A new version in ItemParameters whenever an item's parameters change (new items with
    parameters included), in every writer of items at once."""
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Item) or obj.a is None or obj.b is None:
            continue
        state = inspect(obj)
        if not state.pending and not any(state.attrs[f].history.has_changes()
                                         for f in PARAMETER_FIELDS):
            continue
        actor, run_id = obj.__dict__.pop("_parameter_source", (obj.author or "", None))
        obj.param_version = (obj.param_version or 0) + 1
        model = obj.model or IrtModel.TWO_PL
        session.add(ItemParameters(
            item=obj, version=obj.param_version, model=IrtModel(model).value, a=obj.a,
            b=obj.b, c=obj.c, se_a=obj.se_a, se_b=obj.se_b, se_c=obj.se_c, actor=actor,
            run_id=run_id))


class ItemImage(Base):
    """An image shown after an item's stem (imported with the item: Moodle's embedded files,
    a QTI package's media).  Its address names the attempt, the item and the position only,
    so nothing about it tells the key (the options hold no images)."""

    __tablename__ = "item_image"
    __table_args__ = (UniqueConstraint("item_id", "position"),
                      CheckConstraint("position >= 1", name="position_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))  # first column of the key
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(120))
    media_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportDraft(Base):
    """An uploaded item file between the writer's preview and their confirmation: the bytes
    as uploaded, read again (all or nothing) when the writer confirms, deleted then or when it
    is an hour old (item_bank.exchange.load).  A question file of another tool goes into one
    materi; a CSV or JSON item file (item_bank.item_file) names each item's own, so it has
    none."""

    __tablename__ = "import_draft"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"))
    materi_id: Mapped[int | None] = mapped_column(ForeignKey("materi.id"))
    actor: Mapped[str] = mapped_column(String(120))
    format: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(200))
    as_pretest: Mapped[bool] = mapped_column(default=False)
    allow_operational: Mapped[bool] = mapped_column(default=False, server_default=false())
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]


class ItemExposure(Base):
    """How many attempts of an exam were shown an item (one row per exam and item)."""

    __tablename__ = "item_exposure"
    __table_args__ = (UniqueConstraint("exam_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exam.id"))  # first column of the unique key
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    count: Mapped[int] = mapped_column(default=0)


class PoolVersion(Base):
    """A counter that moves with every committed change to what an exam's pool is made of.

    One row.  Database triggers (migration 0004) bump it whenever a transaction that inserts,
    updates or deletes an item, or renames or deletes a content tag or a materi, commits; on
    PostgreSQL once per transaction, at commit, so the values follow the commit order.  A pool
    read in the same statement as version V is the pool of version V, which is what the pool
    cache (item_bank.pools) is keyed on.
    """

    __tablename__ = "pool_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
