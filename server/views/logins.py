"""Administrators: the login throttle — who is refused or delayed now, and resetting it."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from server import bank
from server.config import login_rule
from server.errors import BadInput
from server.extensions import db
from server.i18n import N_, gettext
from server.policy_args import policy_now
from server.security import access
from server.views.staff import staff_actor

bp = Blueprint("logins", __name__, url_prefix="/admin/logins")


@bp.get("/")
@access("admin")
def index():
    rule = login_rule(current_app.config)
    return render_template("admin/logins.html", rule=rule,
                           rows=bank.login_throttle.throttled(db.session, rule, policy_now()))


def _target() -> tuple[str | None, str | None]:
    """The account and/or address to reset, as the throttle stores them."""
    throttle = bank.login_throttle
    account = request.values.get("account", "").strip()
    address = request.values.get("address", "").strip()
    if not account and not address:
        raise BadInput(N_("Choose an account or an address to reset."), 422, "invalid_input")
    return (throttle.stored_key(account, throttle.ACCOUNT_LENGTH) if account else None,
            throttle.stored_key(address, throttle.ADDRESS_LENGTH) if address else None)


@bp.route("/reset", methods=["GET", "POST"])
@access("admin")
def reset():
    """GET asks for confirmation, POST forgets the failures (with an audit entry)."""
    account, address = _target()
    if request.method == "GET":
        return render_template("admin/logins_reset.html", account=account, address=address)
    deleted = bank.login_throttle.reset(
        db.session, account=account, address=address, actor=staff_actor())
    flash(gettext("Login throttle reset for %(target)s: %(count)s failed tries forgotten.",
                  target=" ".join(filter(None, (account, address))), count=deleted))
    return redirect(url_for("logins.index"))
