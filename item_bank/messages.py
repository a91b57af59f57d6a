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
    "report_chart_not_found": N_("This report has no such chart."),
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
    "report_days_reversed": N_("The report's last day (%(last)s) is before its first day "
                               "(%(first)s)."),
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
    "completion_fields": N_("Expected nip or nip,assignment, got %(count)s fields."),
    "completion_nip_malformed": N_("%(nip)s is not a NIP: a NIP has exactly 18 digits."),
    "completion_nip_unknown": N_("NIP %(nip)s is not registered."),
    "completion_assignment_unknown": N_("No assignment %(code)s in this program."),
    "completion_assignment_missing": N_("No assignment on this line, and none chosen for the "
                                        "file."),
    "completion_duplicate": N_("NIP %(nip)s with assignment %(assignment)s again (also on "
                               "line %(first)s)."),
    "completion_empty": N_("The file names no NIP."),
    "completion_too_long": N_("The file is too long: at most %(max)s characters."),
    "csv_header": N_("The header must be %(columns)s, not %(header)s."),
    "csv_unreadable": N_("Line %(line)s is not a CSV line: %(detail)s"),
    "extension_reason_required": N_("Give the reason for the extension (it is recorded)."),
    "extension_reason_invalid": N_("The reason must be text of at most %(max)s characters."),
    "extension_minutes": N_("An extension is 1 to %(left)s minutes (at most %(max)s in all "
                            "for one attempt), not %(minutes)s."),
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
        "have not seen, one per item family, the bank has %(available)s. Ask the "
        "administrator to add items."),
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
    # --- the cold start (docs/item_bank.md "Cold start")
    "bank_not_calibrated": N_(
        "The items of %(exam)s are not calibrated yet: until they are, it runs as a fixed "
        "form (LOFT). Ask the administrator."),
    "exam_bank_not_calibrated": N_(
        "%(exam)s can switch to CAT once a calibration has replaced the provisional "
        "parameters of its items."),
    # --- item families and enemies (item_bank.families)
    "enemy_not_found": N_("No item %(code)s in this program."),
    "enemy_self": N_("An item cannot be its own enemy (%(code)s)."),
    # ``refused`` is every refused item's own notice (the two above), written one after
    # the other
    "items_status_refused": N_(
        "Nothing was changed: %(count)s of the chosen items cannot become %(status)s: "
        "%(refused)s."),
    # --- the item file (CSV / JSON) of the writer's page and the command line
    # (item_bank.item_file); a problem is shown after where it is and the column
    "import_at_line": N_("line %(n)s"),
    "import_at_record": N_("record %(n)s"),
    "import_file_empty": N_("The file is empty."),
    "import_file_too_large": N_("The file is %(size)s MB; at most %(max)s MB can be imported "
                                "at once: split it."),
    "import_file_type": N_("%(file)s is not a .csv or .json file."),
    "import_not_utf8": N_("The file is not UTF-8 text (the byte %(byte)s on line %(line)s): "
                          "save it as \"CSV UTF-8\" or as UTF-8 JSON."),
    "import_not_json": N_("The file is not valid JSON (line %(line)s, column %(column)s)."),
    "import_json_too_deep": N_("The JSON is nested too deeply: an item file is a list of flat "
                               "objects."),
    "import_json_not_list": N_("The JSON file must hold a list of items."),
    "import_record_not_object": N_("an item must be an object with the item file's fields."),
    "import_no_header": N_("The first line must name the columns (at least %(columns)s)."),
    "import_columns_repeated": N_("Column(s) named twice: %(columns)s."),
    "import_columns_unknown": N_("Unknown column(s) %(columns)s; the columns are %(known)s."),
    "import_columns_missing": N_("Missing column(s): %(columns)s."),
    "import_no_items": N_("The file holds no items."),
    "import_too_many_items": N_("The file holds more than %(max)s items: split it."),
    "import_csv_unreadable": N_("the CSV cannot be read from here on (a quote that is never "
                                "closed, or a character CSV does not allow)."),
    "import_cell_count": N_("%(cells)s cells, but the first line names %(columns)s columns."),
    "import_cell_too_long": N_("a cell longer than %(max)s characters."),
    "import_bad_text": N_("holds a NUL character or other text that cannot be stored."),
    "import_not_text": N_("must be text."),
    "import_not_number": N_("must be a number, not %(value)s."),
    "import_not_version": N_("must be a whole number from 1, not %(value)s."),
    "import_number_range": N_("%(value)s is outside %(low)s..%(high)s."),
    "import_required": N_("is required."),
    "import_code_and_id": N_("code and id differ; give only id."),
    "import_options_twice": N_("give the options either as a list or as option_a..option_e."),
    "import_options_list": N_("must be a list of at most %(max)s texts."),
    "import_option_gap": N_("is empty while a later option is given."),
    "import_options_few": N_("an item needs at least 2 options."),
    "import_option_repeated": N_("repeats option %(other)s."),
    "import_key_letter": N_("must be the letter of an option (A-E), not %(value)s."),
    "import_key_not_option": N_("%(key)s is not one of the options (A-%(last)s)."),
    "import_unknown_model": N_("must be 1pl, 2pl or 3pl, not %(value)s."),
    "import_unknown_status": N_("must be one of %(statuses)s, not %(value)s."),
    "import_other_program": N_("the item is of program %(value)s; this file is imported into "
                               "%(program)s."),
    "import_unknown_materi": N_("no materi %(value)s in program %(program)s (it has: "
                                "%(known)s)."),
    "import_unknown_tag": N_("no content tag %(value)s in materi %(materi)s (it has: "
                             "%(known)s)."),
    "import_duplicate_id": N_("item %(code)s is in the file already (%(first)s)."),
    "import_one_pl_a": N_("a 1pl item has a = 1."),
    "import_c_needs_3pl": N_("a %(model)s item has no guessing parameter c (use 3pl)."),
    "import_new_status": N_("a new item enters as draft, not %(status)s."),
    "import_operational_not_allowed": N_(
        "a new item enters as draft; as operational only when the import allows it (an "
        "administrator's choice)."),
    "import_needs_ab": N_("an item that is %(status)s needs calibrated a and b."),
    "import_version_stale": N_(
        "the bank holds version %(current)s of item %(code)s, the file was made from version "
        "%(version)s: export again, so that the later changes are not undone."),
    "import_value_refused": N_("%(detail)s"),
    "import_preview_stale": N_("The bank has changed since this preview: nothing was imported. "
                               "Upload the file again to see what it would change now."),
    "import_operational_forbidden": N_("Only an administrator may import new items as "
                                       "operational."),
    # --- the writer's item editor (item_bank.editor): each shown next to its field
    "item_form_rejected": N_("Not saved: %(count)s problems in the form; each is shown next "
                             "to its field."),
    "editor_required": N_("Fill in this field."),
    "editor_too_long": N_("At most %(max)s characters (this has %(length)s)."),
    "editor_not_number": N_("%(value)s is not a number."),
    "editor_p_guess_range": N_(
        "The guess is a share between 0 and 1 (easy 0.8, medium 0.55, hard 0.3), not "
        "%(value)s."),
    "editor_materi_unknown": N_("Choose one of the materi listed."),
    "editor_option_gap": N_("Option %(letter)s is empty while a later option is filled in: "
                            "fill the options in order."),
    "editor_option_repeated": N_("Option %(letter)s is the same as option %(other)s."),
    "editor_options_too_few": N_("An item needs at least %(min)s options."),
    "editor_key_missing": N_("Choose the correct option (the key)."),
    "editor_key_unknown": N_("The key %(key)s is not one of %(letters)s."),
    "editor_key_empty_option": N_("The key %(key)s is an empty option."),
    "editor_tag_both": N_("Choose a sub-materi or create a new one, not both."),
    "editor_tag_code": N_("A sub-materi code (%(code)s) has at most %(max)s letters, digits, "
                          "'-', '_' or '.', no spaces, and starts with a letter or a digit."),
    "editor_tag_unknown": N_("Choose a sub-materi of the item's materi."),
    "editor_parameter_range": N_("%(name)s must be within %(low)s..%(high)s (it was "
                                 "%(value)s)."),
    "editor_rasch_a": N_("A 1PL (Rasch) item has a = 1; leave a empty or choose 2PL."),
    "editor_c_needs_3pl": N_("A %(model)s item has no guessing parameter: leave c empty or "
                             "choose 3PL."),
    "editor_operational_parameters": N_("An operational item keeps its calibrated a and b."),
    "editor_image_too_large": N_("Picture %(number)s is larger than %(max_kb)s KB "
                                 "(%(size_kb)s KB)."),
    "editor_image_too_many_pixels": N_("Picture %(number)s is %(width)s × %(height)s pixels; "
                                       "at most %(max)s a side."),
    "editor_image_not_image": N_("Picture %(number)s is not a whole PNG, JPEG or GIF image."),
    "editor_image_unknown": N_("The item has no picture %(position)s."),
    "editor_images_too_many": N_("An item has at most %(max)s pictures (this would have "
                                 "%(count)s)."),
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
    # --- the program settings (ProgramSettings.problems) and the administrator's edits
    "setting_range": N_("%(field)s must be within %(low)s..%(high)s (it was %(value)s)."),
    "setting_at_least": N_("%(field)s must be at least %(low)s (it was %(value)s)."),
    "setting_exposure": N_("max_exposure must be above 0 and at most 1 (it was %(value)s)."),
    "setting_grace": N_("answer_grace_s must be within 0..5 seconds (it was %(value)s)."),
    "setting_timezone": N_("%(value)s is not an IANA time zone such as Asia/Jakarta (WIB), "
                           "Asia/Makassar (WITA) or Asia/Jayapura (WIT)."),
    "setting_not_number": N_("%(field)s must be a number (it was %(value)s)."),
    "setting_not_whole": N_("%(field)s must be a whole number (it was %(value)s)."),
    "setting_locked_by_results": N_(
        "%(field)s cannot change: %(count)s results of this program were graded with it, and "
        "a new pass mark would change whether they passed."),
    "field_locked": N_("%(field)s cannot change: there are already %(count)s attempts."),
    "cut_score_locked": N_(
        "The pass mark cannot change: %(count)s results of this exam were graded with it, and "
        "a new one would change whether they passed."),
    "edited_meanwhile": N_(
        "Not saved: someone else saved %(subject)s after you opened this form. Reload the "
        "form to see their change, then make yours again."),
    "exam_attempts_running": N_(
        "%(count)s attempts of this exam are running: archive it once they have ended."),
    "exam_has_attempts": N_(
        "Exam %(exam)s has %(count)s attempts: it can be archived, not deleted."),
    "program_has_attempts": N_(
        "Program %(program)s has %(count)s attempts: it can be archived, not deleted."),
    "program_has_items": N_(
        "Program %(program)s holds %(count)s items, the writers' work: it can be archived, not "
        "deleted."),
    "materi_in_use": N_(
        "Materi %(materi)s has %(count)s exams or items: it cannot be deleted."),
    "assignment_in_use": N_(
        "Assignment %(assignment)s is marked done for %(count)s participants: it cannot be "
        "deleted."),
    "title_required": N_("The title must not be empty."),
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
    # --- the writers' item search and an item's statistics
    "search_value_unknown": N_("The search's %(field)s cannot be %(value)s: choose one of "
                               "%(choices)s."),
    "search_shown_order": N_("The least times shown (%(low)s) is above the most "
                             "(%(high)s)."),
    "item_no_parameters": N_("Item %(item)s has no parameters yet, so it has no curves."),
    "item_not_shown": N_("Item %(item)s has not been shown in an exam yet."),
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
