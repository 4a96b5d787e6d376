"""Master-data pages for admins: users, machines, scrap reasons, phase types, API tokens."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
