from flask.views import MethodView
from flask_smorest import Blueprint

from app.gigs import services
from app.gigs.schemas import CategorySchema

blp = Blueprint(
    "categories_api",
    __name__,
    url_prefix="/api/v1/categories",
    description="The marketplace's category tree (category -> subcategory).",
)


@blp.route("")
class Categories(MethodView):
    @blp.response(200, CategorySchema(many=True))
    def get(self):
        """List the visible categories with their subcategories."""
        return services.category_tree()
