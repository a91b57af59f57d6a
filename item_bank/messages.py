"""What the item bank tells people, as codes with parameters.

Every refusal (:mod:`item_bank.errors`) and every line of advice the exam policy gives a
participant (the next step, why an exam is locked) is a :class:`Notice`: a code from
:data:`MESSAGES` and the parameters its text needs.  The English text here is the source
string of the server's message catalogs (``server/translations``), which translate it by
this text (``pybabel extract -k N_`` finds it); nothing ever parses a rendered sentence.

Parameters are plain values: numbers, exam codes, and aware datetimes, which are written in
the zone of the ``timezone`` parameter when the notice has one (the program's zone), else in
UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark ``text`` for the message catalogs without translating it here."""
    return text


MESSAGES: dict[str, str] = {
    # --- not found (404): someone else's attempt is indistinguishable from a missing one
    "participant_not_found": N_("Participant not found."),
    # --- the login session ended after it began (401)
    "session_ended": N_("This session has ended; log in again."),
    "program_not_found": N_("Program not found."),
    "unknown_program": N_("Unknown program %(program)s."),
    "exam_not_found": N_("Exam not found."),
    "attempt_not_found": N_("Attempt not found."),
    "certificate_not_found": N_("No certificate numbered %(number)s."),
    "assignment_not_found": N_("No assignment %(assignment)s in this program."),
    "nip_not_enrolled": N_("NIP %(nip)s is not enrolled in this program."),
    "materi_not_found": N_("No materi %(materi)s in this program."),
    "calibration_run_not_found": N_("No calibration run %(run)s."),
    "calibration_job_not_found": N_("No calibration job %(job)s."),
    "item_not_found": N_("No item %(item)s."),
    "service_token_not_found": N_("No service token %(token)s."),
    "program_logo_not_found": N_("This program has no logo."),
    "item_image_not_found": N_("Image not found."),
    "import_draft_not_found": N_("This upload has expired or was imported already; upload the "
                                 "file again."),
    # --- forbidden (403)
    "not_registered": N_("NIP %(nip)s is not on the register."),
    "program_closed": N_("Program %(program)s is not open for enrolment."),
    "not_enrolled": N_("You are not enrolled in this program."),
    # --- invalid input (422)
    "invalid_nip": N_("A NIP has exactly 18 digits."),
    "item_id_not_integer": N_("item_id must be an integer."),
    "choice_not_integer": N_("choice must be an integer option position."),
    "choice_out_of_range": N_("Choice %(choice)s is not an option (0..%(last)s)."),
    "invalid_input": N_("%(detail)s"),
    "token_refused": N_("The token was not created: %(problems)s"),
    "token_name_empty": N_("Give the token a name."),
    "token_name_too_long": N_("The token's name is longer than %(max)s characters "
                              "(%(length)s)."),
    "token_name_taken": N_("A token named %(name)s exists already."),
    "token_scopes_missing": N_("Choose at least one scope for the token."),
    "token_scope_unknown": N_("Unknown scope %(scope)s; the scopes are %(scopes)s."),
    # --- conflicts with the state of an attempt (409)
    "start_in_progress": N_("Another start of this exam is in progress."),
    "item_not_in_attempt": N_("This item is not part of this attempt."),
    "answered_with_other_option": N_("This item was already answered with another option."),
    "attempt_finished": N_("This attempt is finished."),
    "time_up": N_("The time of this attempt has run out."),
    "not_current_item": N_("This is not the current item of the attempt."),
    "finish_needs_confirmation": N_(
        "You have answered %(answered)s of the at least %(min_items)s questions of this exam. "
        "If you finish now, the %(missing)s questions still needed count as wrong and your "
        "score is taken at the lower end of its margin of error: you will most likely not "
        "pass. Confirm to finish anyway."),
    "finish_loft_needs_confirmation": N_(
        "You have answered %(answered)s of the %(length)s questions of this exam. If you finish "
        "now, the %(missing)s unanswered questions are counted as wrong. Confirm to finish "
        "anyway."),
    # --- an exam that cannot be started now (409)
    "certified": N_("You already hold the certificate of this program."),
    "window_not_open": N_("This exam window opens at %(opens_at)s."),
    "window_closed": N_("This exam window has closed."),
    "pre_assessment_once": N_("The pre-assessment is taken exactly once; it cannot be repeated."),
    "pre_assessment_before_training": N_("The pre-assessment comes before the training."),
    "pre_assessment_first": N_("Take the pre-assessment first."),
    "already_passed": N_("You have already passed this exam."),
    "attempts_exhausted": N_("No attempts left: all %(max_attempts)s attempts are used."),
    "ujikom_attempts_exhausted": N_(
        "No attempts left: all %(max_attempts)s attempts are used (belum kompeten)."),
    "materi_not_passed": N_("Pass every materi exam first (%(count)s not passed yet)."),
    "assignments_not_done": N_("Complete every assignment first (%(count)s not marked done)."),
    "waiting_period": N_("Waiting period for remedial study until %(until)s."),
    # --- the bank (409)
    "bank_exhausted": N_(
        "Not enough items for %(exam)s: this attempt needs %(needed)s operational items you "
        "have not seen, the bank has %(available)s. Ask the administrator to add items."),
    # --- the next step of a participant in a program
    "next_certified_pre_assessment": N_(
        "Certified through the pre-assessment: no training needed."),
    "next_certified_ujikom": N_(
        "Kompeten: certificate issued. Recommended: the follow-up training."),
    "next_continue": N_("Continue your running attempt of %(exam)s."),
    "next_take_pre_assessment": N_("Take the pre-assessment %(exam)s."),
    "next_take": N_("Take %(exam)s."),
    "next_belum_kompeten": N_("Belum kompeten: every ujikom attempt is used."),
    "next_no_attempts": N_("No attempts left for %(exam)s: contact the administrator."),
    "next_nothing": N_("Nothing to do right now."),
    # --- calibration from the writer's pages
    "unknown_model": N_("Unknown model %(model)s: choose one of %(models)s."),
    "nothing_to_calibrate": N_(
        "No pretest item was answered in a finished attempt here: nothing to calibrate."),
    "calibration_failed": N_("Calibration failed: %(detail)s"),
    "item_not_estimated": N_("Item %(item)s was not estimated in calibration run %(run)s."),
    "item_parameters_refused": N_("Item %(item)s: %(detail)s."),
    # --- an item's status on the writer's pages (the lifecycle: models.ITEM_TRANSITIONS)
    "item_status_unknown": N_("Choose the new status of the item (%(status)s is not one)."),
    "item_transition_refused": N_(
        "item %(item)s: %(current)s -> %(status)s is not an allowed transition"),
    "item_not_calibrated": N_(
        "item %(item)s: calibrate it (a, b) before making it operational"),
    "retire_reason_required": N_(
        "Give the reason for retiring: it is kept in the audit log."),
    "retire_reason_too_long": N_(
        "The reason for retiring is longer than %(max)s characters (%(length)s)."),
    "items_not_chosen": N_("Choose at least one item."),
    # ``refused`` is every refused item's own notice (the two above), written one after
    # the other
    "items_status_refused": N_(
        "Nothing was changed: %(count)s of the chosen items cannot become %(status)s: "
        "%(refused)s."),
    # --- a program's setup on the administrator's pages (SPEC.md "The flow of one program")
    "code_refused": N_("The code %(code)s may hold only letters, digits, '-', '_' and '.' "
                       "(no spaces) and must start with a letter or a digit."),
    "code_taken": N_("The code %(code)s is already used in this program."),
    "materi_exam_needs_materi": N_("A materi exam needs its materi; the pre-assessment and the "
                                   "ujikom have none."),
    "pre_assessment_one_attempt": N_("A pre-assessment has exactly one attempt; leave the "
                                     "number of attempts empty (it was %(attempts)s)."),
    "second_pre_assessment": N_("This program already has its pre-assessment %(exam)s; a "
                                "participant takes the pre-assessment only once."),
    "slot_settings_differ": N_("Exam %(exam)s already serves %(slot)s with %(field)s "
                               "%(theirs)s; the attempts of one slot are counted together, so "
                               "its exams must agree (this one has %(ours)s)."),
    "cut_score_range": N_("The pass mark must be within 0..100 (it was %(cut)s)."),
    "exam_field_range": N_("%(field)s must be within %(low)s..%(high)s (it was %(value)s)."),
    "min_above_max": N_("The minimum number of items (%(low)s) is above the maximum "
                        "(%(high)s)."),
    "window_order": N_("The exam window closes before it opens."),
    # --- the certificate's details and logo (the administrator's program page)
    "certificate_text_too_long": N_(
        "The certificate's %(field)s is longer than %(max)s characters (%(length)s)."),
    "certificate_text_control": N_(
        "The certificate's %(field)s must be one line of text, without control characters."),
    "logo_empty": N_("The logo file is empty."),
    "logo_too_large": N_("The logo file is larger than %(max_kb)s KB (%(size_kb)s KB)."),
    "logo_not_image": N_(
        "The logo must be a PNG or JPEG image; this file is not one, or it is damaged."),
    "logo_too_many_pixels": N_(
        "The logo is %(width)s × %(height)s pixels; at most %(max)s × %(max)s are accepted."),
}


# The item statuses as pages and messages name them (the status itself is a code).
ITEM_STATUS_LABELS: dict[str, str] = {
    "draft": N_("draft"),
    "reviewed": N_("reviewed"),
    "pretest": N_("pretest"),
    "operational": N_("operational"),
    "retired": N_("retired"),
}


def format_param(value: Any, timezone: str | None) -> Any:
    """A parameter as English text needs it: a datetime in the notice's zone (else UTC)."""
    if isinstance(value, dt.datetime):
        local = value.astimezone(ZoneInfo(timezone) if timezone else dt.UTC)
        return f"{local:%Y-%m-%d %H:%M} {local:%Z}"
    if isinstance(value, tuple | list):
        return "; ".join(str(format_param(v, timezone)) for v in value)
    return value


@dataclass(frozen=True)
class Notice:
    """A message as a code and its parameters; :meth:`text` is the English rendering."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in MESSAGES:
            raise KeyError(f"no message {self.code!r} in item_bank.messages.MESSAGES")

    def __hash__(self) -> int:
        return hash((self.code, tuple(sorted(self.params.items()))))

    @property
    def template(self) -> str:
        """The English source text, with ``%(name)s`` placeholders."""
        return MESSAGES[self.code]

    def text(self) -> str:
        zone = self.params.get("timezone")
        return self.template % {k: format_param(v, zone) for k, v in self.params.items()}

    def __str__(self) -> str:
        return self.text()
