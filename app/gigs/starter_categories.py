"""The category tree every new marketplace starts with (operators edit it later)."""

STARTER_CATEGORIES = [
    (
        "Graphics & Design",
        ["Logo Design", "Brand Style Guides", "Illustration", "UI/UX Design", "Packaging Design"],
    ),
    (
        "Programming & Tech",
        ["Website Development", "Mobile Apps", "Data Engineering", "DevOps & Cloud", "Bug Fixes"],
    ),
    (
        "Digital Marketing",
        ["Search Engine Optimization", "Social Media Marketing", "Email Marketing", "Paid Advertising"],
    ),
    (
        "Writing & Translation",
        ["Articles & Blog Posts", "Copywriting", "Translation", "Proofreading & Editing"],
    ),
    ("Video & Animation", ["Video Editing", "Explainer Videos", "Animated Logos", "Subtitles & Captions"]),
    ("Music & Audio", ["Voice Over", "Mixing & Mastering", "Podcast Editing", "Jingles"]),
    ("Business", ["Virtual Assistant", "Market Research", "Business Plans", "Financial Consulting"]),
    ("Data", ["Data Entry", "Data Analysis", "Data Visualization", "Databases"]),
]
