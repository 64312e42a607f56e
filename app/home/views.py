"""Home pages. "/" is the one URL both kinds of host serve, so one view picks."""

from flask import Blueprint, g, render_template
from flask_login import current_user

from app.discovery.home import home_sections
from app.gigs.services import visible_category_nodes

# Served on tenant and platform hosts alike (tenant bound when there is one).
home_bp = Blueprint("home", __name__, template_folder="templates")


@home_bp.get("/")
def home():
    if g.tenant is None:
        return render_template("platform/home.html")
    me = current_user._get_current_object() if current_user.is_authenticated else None
    return render_template(
        "home/marketplace.html", home=home_sections(me), categories=visible_category_nodes(), me=me
    )
