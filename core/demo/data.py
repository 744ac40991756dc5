"""The sample library's tables: families, photos, copy, palettes, performance, CSV columns (data, not logic)."""
from __future__ import annotations

MONTHS = [(2026, 5), (2026, 6), (2026, 7), (2026, 8)]
SCALE = 0.5          # canvases are specified at full size (1080 px wide) and rendered at half size
RESIZE_SCALE = 0.4   # the "resize" variant: same creative, smaller render
FORMATS = {"square": (1080, 1080), "portrait": (1080, 1350), "story": (1080, 1920), "landscape": (1200, 628)}
VIDEO_SIZE, VIDEO_FPS = (360, 640), 12

# family -> (format, file prefix, file extension); photo-heavy families are JPEG, flat graphics PNG
FAMILIES = {
    "product_closeup_discount": ("square", "deal", "jpg"),
    "testimonial_quote_card": ("square", "quote", "png"),
    "before_after_split": ("landscape", "ba", "jpg"),
    "ugc_caption_bar": ("story", "ugc", "jpg"),
    "text_only_offer": ("square", "offer", "png"),
    "lifestyle_cta_button": ("portrait", "life", "jpg"),
    "event_poster": ("portrait", "event", "png"),
    "app_screenshot_phone": ("landscape", "app", "png"),
    "carousel_grid_collage": ("square", "grid", "jpg"),
    "meme_top_bottom_text": ("square", "meme", "jpg"),
}
VIDEO_FAMILIES = ["video_ugc_fast", "video_slow_reveal"]

TREND_ROLES = {"grows": "lifestyle_cta_button", "peaks": "meme_top_bottom_text", "appears": "app_screenshot_phone",
               "disappears": "event_poster", "splits": "text_only_offer"}
# relative number of ads per month for each role; "steady" is every other family
MONTH_WEIGHTS = {"grows": (2, 3, 4, 6), "peaks": (2, 7, 3, 1), "appears": (0, 0, 4, 5),
                 "disappears": (4, 4, 0, 0), "splits": (2, 2, 6, 4), "steady": (2, 2, 2, 2)}
# spend per ad also scales by month for the growing family, so its monthly spend rises with its count
SPEND_TREND = {"grows": (1.0, 1.25, 1.5, 1.75)}
SPLIT_STYLES = (("classic",), ("classic",), ("warm_burst", "cool_frame"), ("warm_burst", "cool_frame"))
RUN_DAYS = (14, 43)  # an ad runs 2-6 weeks from its start date, so many run across a month boundary
N_VIDEOS = 8         # a fast and a slow video launch every month

# (category, product names) per photo source
PHOTOS = {
    "coffee": ("coffee", ["Morning Roast", "Cold Brew Kit", "Espresso Blend", "Single-Origin Beans"]),
    "flower": ("skincare", ["Bloom Face Oil", "Petal Serum", "Rose Toner", "Glow Mist"]),
    "china": ("travel", ["Temple Trail Tours", "Mountain Escapes", "Old Town Weekends"]),
    "astronaut": ("outdoor", ["Summit Jacket", "Explorer Pack", "Trail Thermos"]),
    "chelsea": ("pets", ["Purrfect Treats", "Cozy Cat Bed", "Feather Wand Toy"]),
    "cat": ("pets", ["Whisker Snacks", "Catnip Pillow", "Scratch Tower"]),
    "rocket": ("tech", ["Nova Laptop", "Orbit Earbuds", "Launch Smartwatch"]),
    "motorcycle": ("moto", ["Rider Jacket", "Track Helmet", "Touring Gloves"]),
    "hubble": ("astronomy", ["StarGazer App", "Night Sky Map"]),
    "ihc": ("wellness", ["Daily Probiotic", "Gut Health Kit"]),
    "retina": ("eyecare", ["Blue-Light Drops", "Eye Vitamins"]),
    "colorwheel": ("design", ["Color Studio", "Paint Starter Set"]),
    "coins": ("finance", ["Budget Buddy", "Smart Savings"]),
    "clock": ("productivity", ["Focus Timer", "Habit Tracker"]),
    "camera": ("photography", ["Film Camera Course", "Lens Kit"]),
    "brick": ("home", ["Loft Wall Paint", "Brick Sealant"]),
}
# per-family photo pools keep each family's imagery coherent (and distinct from other families)
POOLS = {
    "product_closeup_discount": ["rocket", "motorcycle", "coins", "clock", "colorwheel"],
    "testimonial_quote_card": ["astronaut", "chelsea", "cat", "camera"],
    "before_after_split": ["flower", "brick", "retina", "ihc", "coffee", "china"],
    "ugc_caption_bar": ["astronaut", "motorcycle", "camera", "rocket"],
    "lifestyle_cta_button": ["china", "coffee", "flower"],
    "app_screenshot_phone": ["hubble", "ihc", "retina", "colorwheel", "coins", "clock"],
    "carousel_grid_collage": ["coffee", "flower", "rocket", "motorcycle", "chelsea", "china", "colorwheel", "astronaut"],
    "meme_top_bottom_text": ["cat", "chelsea"],  # meme series reuse a couple of template images
    "text_only_offer": list(PHOTOS), "event_poster": list(PHOTOS),  # no photo; pool only names a product
}
# face centres for round avatar crops (fractions of the source image)
FACES = {"astronaut": (0.46, 0.24, 3.2), "chelsea": (0.5, 0.42, 2.0), "cat": (0.52, 0.42, 2.0), "camera": (0.48, 0.2, 4.0)}

COPY = {
    "product_closeup_discount": dict(
        headlines=["Save {pct} on {product}", "{product}, now {pct} off", "Flash sale: {product}",
                   "Today only: {pct} off", "{product} at its lowest price", "Last call on {product}"],
        copy=["Limited stock, so grab yours before it's gone.", "Free shipping on every order over $35.",
              "Loved by over 50,000 customers.", "The price drops automatically at checkout.",
              "Offer ends Sunday at midnight.", "Free returns within 30 days."],
        cta=["Shop now", "Grab the deal", "Buy now", "Get the offer"], tags=["discount", "product", "close-up"],
        campaigns=["Summer Sale 2026", "Flash Deals", "Retargeting - Cart"]),
    "testimonial_quote_card": dict(
        headlines=["Best purchase I've made all year.", "I noticed a difference in two weeks.",
                   "Honestly, I wish I'd found this sooner.", "My whole family is obsessed with it.",
                   "Fast delivery and great quality.", "It replaced three products in my routine.",
                   "Support answered in minutes. Impressed!", "Worth every single penny."],
        copy=["Rated 4.8 out of 5 by 12,000 verified buyers.", "Join thousands of happy customers.",
              "Real reviews from real people.", "See why customers keep coming back.",
              "Try it risk-free for 60 days."],
        cta=["Read reviews", "Learn more", "Try it free", "Shop now"], tags=["testimonial", "review", "social-proof"],
        campaigns=["Social Proof Always-On", "Reviews Push"]),
    "before_after_split": dict(
        headlines=["See the difference in 14 days", "Real results, no filters", "From dull to glowing",
                   "Same space, new life", "Two weeks with {product}", "The results speak for themselves"],
        copy=["Results from real customers, unedited.", "Tested on 200 volunteers.", "Visible change after the first use.",
              "Individual results may vary.", "Backed by a 30-day guarantee."],
        cta=["See results", "Shop now", "Learn more"], tags=["before-after", "transformation", "results"],
        campaigns=["Results Campaign", "Skincare Launch"]),
    "ugc_caption_bar": dict(
        headlines=["POV: you finally tried {product}", "ok this {product} is actually insane",
                   "things I wish I knew sooner", "day 7 of using {product}", "honest review, no filter",
                   "why is nobody talking about this"],
        bottoms=["link in bio", "wait for the end", "10/10 would buy again", "my new daily habit", "you need this"],
        copy=["I was skeptical, but here we are.", "Filmed on my phone, no edits.",
              "Saw it on my feed and had to try it.", "Still using it three months later.", "Tag someone who needs this."],
        cta=["Shop now", "Learn more", "Watch more"], tags=["ugc", "creator", "authentic"],
        campaigns=["Creator Program", "UGC Whitelisting"]),
    "text_only_offer": dict(
        headlines=["50% OFF", "BUY 1 GET 1", "FREE SHIPPING", "2 FOR $30", "LAST CHANCE", "$10 OFF", "70% OFF", "FLASH SALE"],
        subs=["Ends Sunday at midnight", "Sitewide. No code needed.", "Use code SUMMER20", "Today only",
              "While stocks last", "Members get early access"],
        copy=["Our biggest sale of the season is here.", "Stock up on your favourites.", "No tricks, just great prices.",
              "Discount applied at checkout.", "Don't miss out this time."],
        cta=["Shop the sale", "Claim offer", "Shop now"], tags=["offer", "text-only", "sale"],
        campaigns=["Summer Sale 2026", "Flash Deals"]),
    "lifestyle_cta_button": dict(
        headlines=["Made for slow mornings", "Your weekend starts here", "Live a little louder",
                   "Go further, feel lighter", "Crafted for everyday moments", "Find your quiet place",
                   "Small rituals, big days"],
        copy=["Designed in small batches for people who care about details.", "Bring a little calm into your routine.",
              "Thoughtfully made, built to last.", "Discover the collection everyone is talking about.",
              "Made with materials you can feel good about."],
        cta=["Shop now", "Shop now", "Discover more", "Shop the look"], tags=["lifestyle", "cta", "aspirational"],
        campaigns=["Brand Awareness", "Summer Collection"]),
    "event_poster": dict(
        headlines=["Summer Beats Festival", "Night Market Live", "Founders Meetup", "Open Air Cinema",
                   "Jazz on the Roof", "Design Week Talks", "Midnight Run Club", "Indie Game Night"],
        venues=["Harbor Hall, Lisbon", "Pier 7, Brooklyn", "The Warehouse, Berlin", "Rooftop 21, Austin",
                "Old Mill, Manchester", "Dock Arena, Rotterdam"],
        copy=["Early-bird tickets are limited.", "Live music, street food and good company.", "Doors open at 7 pm.",
              "Bring a friend, the second ticket is half price.", "All ages welcome."],
        cta=["Get tickets", "RSVP now", "Book your seat"], tags=["event", "poster", "tickets"],
        campaigns=["Events Summer 2026", "Ticket Sales"]),
    "app_screenshot_phone": dict(
        headlines=["Track every habit in one tap", "Your money, finally organized", "Explore the night sky tonight",
                   "Learn a language in 5 minutes a day", "Plan meals without the stress", "Sleep better starting tonight",
                   "Edit photos like a pro"],
        copy=["Free to download. No credit card needed.", "Rated 4.8 by over a million users.",
              "Works offline, syncs everywhere.", "Join 2 million people who switched.", "New: widgets and dark mode."],
        cta=["Download free", "Get the app", "Install now"], tags=["app", "install", "mobile"],
        campaigns=["App Installs", "App Re-engagement"]),
    "carousel_grid_collage": dict(
        headlines=["New Collection", "The Summer Edit", "Shop the Lookbook", "Bestsellers Are Back",
                   "Curated for You", "Fresh Arrivals"],
        copy=["Swipe through our freshest picks.", "Mix, match and save on bundles.",
              "Every piece hand-picked by our stylists.", "Limited runs, restocked weekly.", "Find your new favourite."],
        cta=["Shop the edit", "See all", "Browse now"], tags=["collection", "grid", "catalog"],
        campaigns=["Catalog Sales", "Summer Collection"]),
    "meme_top_bottom_text": dict(
        headlines=["WHEN THE SALE STARTS|AND YOUR CART IS READY", "ME: I DON'T NEED IT|ALSO ME: ADD TO CART",
                   "NOBODY:|ME BUYING {PRODUCT} AT 2AM", "ONE DOES NOT SIMPLY|SKIP FREE SHIPPING",
                   "MONDAY MOOD|FIXED BY {PRODUCT}", "THEY SAID IT WOULDN'T LAST|IT'S BEEN 3 YEARS",
                   "ME WAITING FOR|MY PACKAGE TO ARRIVE"],
        copy=["We know. We've been there too.", "Tag a friend who does this.", "Relatable? Thought so.",
              "Send this to your group chat.", "Your cart called. It misses you."],
        cta=["Shop now", "Learn more"], tags=["meme", "humor", "viral"],
        campaigns=["Viral Tests", "Brand Awareness"]),
    "video_ugc_fast": dict(
        headlines=["3 reasons I switched", "wait for it", "this changed my mornings", "unboxing time",
                   "ok but look at this", "no way it's this good", "day in my life", "the final result"],
        copy=["Quick cuts, real results.", "Shot in one afternoon with my phone.", "You asked, so here it is."],
        cta=["Shop now"], tags=["video", "ugc", "fast-paced"], campaigns=["Creator Program"]),
    "video_slow_reveal": dict(
        headlines=["Introducing {product}", "Crafted slowly. Made to last.", "A closer look", "Designed for you"],
        copy=["Take a moment. This one is worth it.", "Every detail, considered.", "The wait is over."],
        cta=["Discover more"], tags=["video", "reveal", "cinematic"], campaigns=["Brand Video"]),
}
EXTRA_TAGS = ["summer", "bestseller", "new", "limited", "evergreen"]
# the split family's sale line in July diverges into two messages: urgency (warm burst) and value (cool frame);
# its classic offers of May-June mix both, so each new line continues part of the old one
SUBSTYLE_COPY = {
    "warm_burst": dict(
        headlines=["FLASH SALE", "LAST CHANCE", "70% OFF", "FINAL HOURS", "50% OFF"],
        subs=["Ends tonight at midnight", "Today only", "While stocks last", "Gone at midnight"],
        copy=["The clock is ticking on our biggest sale.", "Hurry, prices go back up at midnight.",
              "Last chance before it's gone.", "Flash prices, today only."],
        cta=["Shop the sale", "Shop now"]),
    "cool_frame": dict(
        headlines=["FREE SHIPPING", "BUY 1 GET 1", "2 FOR $30", "$10 OFF", "MEMBER DEAL"],
        subs=["Use code SUMMER20", "Members get early access", "Sitewide. No code needed.", "On every order over $35"],
        copy=["Members save more on every order.", "Stock up on your favourites and save.",
              "Discount applied at checkout with your code.", "More value in every basket."],
        cta=["Claim offer", "Get the code"]),
}

# family -> (ctr, cvr, cpm, average order value); deliberately spread so families perform differently
PERF = {
    "product_closeup_discount": (0.018, 0.045, 9.0, 45), "testimonial_quote_card": (0.012, 0.055, 8.0, 60),
    "before_after_split": (0.024, 0.035, 7.0, 55), "ugc_caption_bar": (0.029, 0.030, 6.5, 40),
    "text_only_offer": (0.008, 0.025, 5.0, 35), "lifestyle_cta_button": (0.014, 0.030, 10.0, 80),
    "event_poster": (0.010, 0.060, 7.5, 30), "app_screenshot_phone": (0.016, 0.080, 6.0, 12),
    "carousel_grid_collage": (0.015, 0.038, 8.5, 70), "meme_top_bottom_text": (0.032, 0.012, 4.5, 35),
    "video_ugc_fast": (0.022, 0.028, 7.0, 50), "video_slow_reveal": (0.009, 0.020, 11.0, 90),
}

# colour palettes (RGB); variants recolour within a family's palette so the family keeps its look
BADGE = [(226, 35, 52), (244, 101, 24), (214, 0, 110), (190, 20, 20)]
PASTEL = [((252, 228, 236), (220, 80, 125)), ((224, 247, 236), (40, 150, 105)), ((232, 228, 252), (110, 85, 210)),
          ((255, 239, 219), (225, 125, 35)), ((222, 240, 252), (45, 125, 205))]
BA_ACCENT = [(20, 160, 120), (40, 110, 230), (230, 90, 40)]
OFFER = {"classic": [(230, 30, 60), (20, 90, 220), (240, 140, 0), (130, 40, 200), (0, 150, 105)],
         "warm_burst": [(232, 48, 40), (240, 100, 20), (215, 20, 100)],
         "cool_frame": [(20, 70, 200), (0, 120, 145), (25, 130, 75)]}
PAPER = (250, 249, 244)
BUTTON = [(240, 90, 40), (25, 25, 25), (20, 120, 90), (40, 90, 220)]
EVENT_BG = [(12, 12, 30), (22, 10, 38), (5, 22, 32)]
NEON = [(0, 240, 200), (255, 60, 170), (250, 230, 40), (120, 255, 80)]
APP_GRAD = [((40, 80, 230), (130, 50, 220)), ((0, 150, 170), (20, 60, 160)), ((250, 90, 110), (150, 40, 190))]
GRID_ACCENT = [(30, 30, 30), (170, 110, 50), (200, 60, 80)]
TONES = ["warm", "cool", "mono"]
HANDLES = ["@maya.makes", "@jonas_daily", "@priya.tries", "@leo.reviews", "@ana.everyday", "@tom_tests"]
AUTHORS = ["Maya R.", "Jonas K.", "Priya S.", "Leo M.", "Ana G.", "Tom B.", "Chloe D.", "Sam W."]
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]

CSV_COLUMNS = ["file", "headline", "copy", "cta", "tags", "format", "placement", "campaign", "date", "start_date",
               "end_date", "spend", "impressions", "clicks", "conversions", "revenue"]
