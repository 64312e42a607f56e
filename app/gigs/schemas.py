from marshmallow import Schema, fields


class SubcategorySchema(Schema):
    id = fields.Int(dump_only=True, metadata={"example": 12})
    name = fields.Str(metadata={"example": "Logo Design"})
    slug = fields.Str(metadata={"example": "logo-design"})
    position = fields.Int()


class CategorySchema(SubcategorySchema):
    description = fields.Str()
    children = fields.List(fields.Nested(SubcategorySchema), dump_only=True)
