"""Write assets/sample_reviews.csv: hand-written customer feedback for a small shop and its app.

Three balanced classes -- praise, complaint, question -- composed from fragments written for this
project (no text is taken from any dataset). The classes are kept from hanging on one cue: some
complaints and some praise are phrased as questions, some questions have no question mark, and a few
rows mix a kind word into a complaint or a question. Seeded, so a rerun writes the same file.

    python scripts/write_sample_dataset.py            # writes assets/sample_reviews.csv
    python scripts/write_sample_dataset.py --check    # fails if the committed file is out of date
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from pathlib import Path

ROWS_PER_CLASS = 130
SEED = 13
OUTPUT = Path(__file__).resolve().parents[1] / "assets" / "sample_reviews.csv"

# --- slot fillers --------------------------------------------------------------------------------
ITEMS = [
    "the ceramic mug", "the linen tote bag", "the standing desk", "the phone case",
    "the scented candle", "the yoga mat", "the espresso beans", "the wool scarf",
    "the kids' raincoat", "the desk lamp", "the terracotta plant pot", "the hiking boots",
    "the notebook set", "the steel water bottle", "the canvas backpack", "the bluetooth speaker",
    "the vegetarian cookbook", "the 1000-piece puzzle", "the face cream", "the dog leash",
    "the cast iron pan", "the tea sampler", "the charging cable", "the reading glasses",
    "the bamboo cutlery set", "the rain jacket", "the wall clock", "the crème brûlée kit",
    "the jalapeño hot sauce", "the matcha whisk", "the baby blanket", "the leather wallet",
    "the bike light", "the weekly planner", "the board game", "the cushion cover",
]
RELATIVES = ["mum", "dad", "sister", "brother", "nephew", "grandmother", "best friend",
             "partner", "neighbour", "daughter", "son", "colleague"]
STAFF = ["Zoë", "Tom", "the lady", "the young man", "Priya", "Mateo", "the manager", "Ines"]
PLACES = ["Canada", "Ireland", "Norway", "São Paulo", "Málaga", "New Zealand", "Japan",
          "the Channel Islands", "Switzerland", "Australia"]
COLOURS = ["navy", "sage green", "mustard", "black", "off-white", "rust orange", "pale pink"]
FAST = ["the next day", "in two days", "a day early", "within 48 hours", "before the weekend"]
WAITS = ["three weeks", "over a month", "ten days", "two weeks", "almost six weeks"]
USED_FOR = ["a month", "six weeks", "half a year", "the whole winter", "three months"]
BROKE_AFTER = ["two days", "a week", "one wash", "a fortnight", "the second use"]
DAYS = ["Sunday", "bank holidays", "Saturday mornings", "Christmas Eve", "Easter Monday"]
MONTHS = ["December", "the summer", "next month", "March", "the school holidays"]

# --- praise ---------------------------------------------------------------------------------------
PRAISE_TEMPLATES = [
    "{Item} arrived {fast} and works perfectly.",
    "Really pleased with {item}, it feels much sturdier than I expected.",
    "{Item} is exactly as pictured and the colour is lovely.",
    "Bought {item} for my {relative} and they adore it.",
    "Great value for money, {item} has already paid for itself.",
    "The packaging was neat and {item} came without a scratch.",
    "I've used {item} every day for {used} and it still looks brand new.",
    "Second time ordering {item} and it is just as good as the first.",
    "Can't fault it: {item} is well designed and well made.",
    "Who knew {item} could make such a difference? Absolutely love it.",
    "Not something I'd normally buy, but {item} turned out to be brilliant.",
    "{Item} exceeded my expectations, I'll definitely order again.",
    "Nothing to complain about, {item} does exactly what it says.",
    "{staff} at the counter helped me choose {item} and it was the right call.",
    "Ordered {item} in {colour} and it looks even better in person.",
    "My {relative} has not stopped talking about {item} since the party.",
    "{Item} was a lovely surprise, so much nicer than the cheap ones I had before.",
    "Quick delivery, friendly note in the box and {item} is gorgeous.",
    "Honestly the best purchase I made this year, {item} is a joy to use.",
    "I was nervous ordering {item} online but it fits perfectly.",
    "Thank you {staff}, the advice about {item} was spot on.",
    "Ten out of ten for {item}, stylish, useful and fairly priced.",
]
PRAISE_LINES = [
    "The new app update is so much faster, well done to the team.",
    "Lovely little shop, everyone was friendly and the café upstairs is a gem.",
    "Checkout took less than a minute, easiest online order I've ever placed.",
    "Your support team sorted out my address mix-up in minutes, thank you!",
    "Five stars, would happily recommend you to anyone.",
    "The gift wrapping was beautiful, my aunt thought I'd spent a fortune.",
    "Such a thoughtful handwritten note in the parcel, it made my day.",
    "Love the new dark mode in the app, my eyes thank you.",
    "Refund came through the same day I sent the parcel back, very fair.",
    "Great selection of teas, the rosé blend is my new favourite.",
    "The loyalty points actually add up quickly, nice touch.",
    "Staff remembered my name on my second visit, that's proper service.",
    "Beautifully made, you can tell someone cares about the details.",
    "Parcel was left exactly where I asked, perfect.",
    "The matcha latte at your café is the best in town, no contest.",
    "Bought three for the office and everyone wants to know where they came from.",
    "Can I just say how patient your support agent was with my questions?",
    "I didn't expect a small shop to ship this fast, impressed.",
    "Brilliant customer service from start to finish.",
    "The sizing guide was spot on, everything fits first time.",
    "Really cosy shop, the naïve little paintings on the wall are charming.",
    "Works like a charm, even my grandad figured out the app.",
    "Quality is miles ahead of the big online stores, happy to pay a bit more.",
    "Got a free sample of the lavender soap and now I'm hooked.",
    "My order was wrong but you fixed it the next morning, no fuss at all.",
    "Every item was wrapped in paper, not plastic, love that.",
    "The reminder emails are helpful without being annoying, well balanced.",
    "Ten minutes in the shop and I left with presents for the whole family.",
    "Such a relief to find a shop that answers the phone and actually helps.",
    "Great prices during the sale and nothing felt cheap.",
    "The app's order tracking is clear and always accurate.",
    "Friendly, fast and fair, what more could you ask for?",
    "It's the small things, like the sweets in the parcel, that make me come back.",
    "The re-usable box is clever, I use it for storage now.",
    "Really happy, it was worth the wait.",
    "Perfect for a cold morning, thanks so much!",
]

# --- complaint ------------------------------------------------------------------------------------
COMPLAINT_TEMPLATES = [
    "{Item} arrived {wait} late and the box was crushed.",
    "{Item} stopped working after {broke}, really disappointed.",
    "I was charged twice for {item} and nobody has answered my emails.",
    "The colour of {item} looks nothing like the photos on the website.",
    "Still waiting on my refund for {item}, it's been {wait}.",
    "How hard is it to pack {item} properly? Mine came in pieces.",
    "{Item} smells of chemicals and already looks worn out.",
    "Ordered {item} for my {relative}'s birthday and it never showed up.",
    "Way too expensive for what you get, {item} is not worth half the price.",
    "I usually love your shop, but {item} was a real letdown this time.",
    "Tracking for {item} has said \"out for delivery\" for {wait} now.",
    "Why was {item} sent to the wrong address when I checked it twice?",
    "{Item} came in {colour} instead of the one I ordered, and returns cost me postage.",
    "{Item} fell apart after {broke}, not acceptable.",
    "Paid for next-day delivery and {item} turned up {wait} later.",
    "{staff} promised a call back about {item} and I never heard a thing.",
    "Half of {item} was missing from the box and the invoice was wrong too.",
    "Thanks for nothing, {item} never arrived and the chat bot keeps looping.",
    "{Item} is much smaller than described, feels like a toy.",
    "Returned {item} {wait} ago and still no sign of my money.",
    "Disappointed, {item} was scratched and clearly used before.",
    "Sent {item} back twice now and both replacements had the same fault.",
]
COMPLAINT_LINES = [
    "The app crashes every time I try to pay, so frustrating.",
    "Why does the app log me out every single time I open it?",
    "The discount code didn't work at checkout and I paid full price.",
    "The person on the phone was rude and hung up on me.",
    "Your website took my money but the order doesn't show in my account.",
    "Waited forty minutes in the queue and the café had run out of everything.",
    "Three emails, two phone calls, zero answers. Not good enough.",
    "The new update hid the basket button, I can't find anything now.",
    "Delivery driver threw the parcel over the fence in the rain.",
    "Is it normal to wait a month for a simple refund? I don't think so.",
    "The notifications won't stop even after I turned them off.",
    "Got an invoice for an order I cancelled weeks ago.",
    "Prices went up again and the portions got smaller.",
    "The shop was closed during the posted opening hours, wasted trip.",
    "Login codes arrive ten minutes late, by then they have expired.",
    "My loyalty points disappeared after the update, please fix this.",
    "The parcel was soaked through and everything inside was ruined.",
    "Customer service keeps sending the same copied reply without reading my message.",
    "Ordered a crème brûlée kit, received a box of candles instead.",
    "Really poor, the zip broke on the first day.",
    "The app charges a service fee that was never mentioned before.",
    "What is the point of express shipping if it takes a week?",
    "Went to collect my order and nobody could find it.",
    "The size chart is completely wrong, everything is two sizes too small.",
    "Cold coffee, sticky tables and a twenty minute wait, not impressed.",
    "I unsubscribed three times and still get five emails a day.",
    "The courier marked it delivered but nothing came.",
    "The glass was cracked straight out of the box, very disappointing.",
    "Your returns portal keeps giving an error on the last step.",
    "Second order in a row with a missing item, I'm done.",
    "Honestly expected better, it feels like a cheap copy.",
    "I was promised a replacement last Tuesday and still nothing.",
    "The battery barely lasts an hour, useless for travelling.",
    "The font in the app is so tiny I can hardly read my basket.",
    "Paid extra for gift wrap and it came in a plain bag.",
    "Support closed my ticket without solving anything.",
]

# --- question -------------------------------------------------------------------------------------
QUESTION_TEMPLATES = [
    "Do you ship {item} to {place}?",
    "Is {item} available in {colour}?",
    "How long does delivery to {place} usually take?",
    "Can I return {item} if it doesn't fit?",
    "Is there a student discount on {item}?",
    "What are your opening hours on {day}?",
    "I'd like to know whether {item} comes with a warranty.",
    "Wondering if you'll restock {item} before {month}.",
    "Which size of {item} would you recommend for my {relative}?",
    "Any chance {item} will be back in {colour} soon?",
    "Is it possible to gift wrap {item} and add a short note?",
    "Loved my last order, do you have {item} in a bigger size?",
    "My {item} works fine, but how do I clean it properly?",
    "Could {staff} put {item} aside for me until {day}?",
    "Please let me know if {item} can be delivered to {place}.",
    "What is {item} made of, and is it recyclable?",
    "Does {item} come with instructions in Spanish?",
    "If I order {item} today, will it arrive before the weekend?",
    "Can I pay for {item} in three instalments?",
    "Just checking, is {item} suitable as a gift for a ten-year-old?",
    "Do you offer a discount if I buy {item} in bulk for the office?",
    "I'm curious how heavy {item} is, I need to carry it on a plane.",
]
QUESTION_LINES = [
    "How do I change the delivery address on an order I already placed?",
    "Does the app work offline, or do I need wifi?",
    "How do I cancel my subscription in the app?",
    "Please tell me how to reset my password, the link isn't in my inbox.",
    "Can I collect my order from the café instead of having it posted?",
    "Where can I find my invoice for last month's order?",
    "Is there a way to turn off the daily emails but keep order updates?",
    "Do you have a physical shop I can visit in town?",
    "Do gift cards expire, and can they be used online?",
    "Are your candles made with soy or paraffin wax?",
    "Wondering whether you take custom orders for weddings.",
    "What's the best way to contact you about a bulk order?",
    "Can I swap the item for a different colour instead of getting a refund?",
    "Is the café dog friendly?",
    "How do I add a second card to my account in the app?",
    "Do you price match if I find the same thing cheaper elsewhere?",
    "When does the summer sale start this year?",
    "Could you confirm whether my order included the free sample?",
    "Is the rosé tea caffeine free?",
    "Do you deliver on Sundays?",
    "I'd like to know if you have vegan options at the café.",
    "How many loyalty points do I need for a free coffee?",
    "Can the app show prices in euros?",
    "Is there parking near the shop?",
    "Would it be possible to change my order to express delivery?",
    "What time does the last post go out on Fridays?",
    "Do you sell replacement lids separately?",
    "Can my parcel be left with a neighbour if I'm out?",
    "Do I need an account to place an order, or can I check out as a guest?",
    "Are the mugs microwave safe?",
    "Is there a minimum order for free shipping?",
    "Which payment methods do you accept in the app?",
    "Hi, just wondering if you're hiring for the holidays.",
    "Can I book the back room of the café for a birthday?",
    "Are the prices on the website the same as in the shop?",
    "Is it okay to return a gift without the receipt?",
]

CLASSES = {
    "praise": (PRAISE_TEMPLATES, PRAISE_LINES),
    "complaint": (COMPLAINT_TEMPLATES, COMPLAINT_LINES),
    "question": (QUESTION_TEMPLATES, QUESTION_LINES),
}


def _fill(template: str, rng: random.Random) -> str:
    item = rng.choice(ITEMS)
    text = template.format(
        item=item, Item=item[0].upper() + item[1:], relative=rng.choice(RELATIVES),
        staff=rng.choice(STAFF), place=rng.choice(PLACES), colour=rng.choice(COLOURS),
        fast=rng.choice(FAST), wait=rng.choice(WAITS), used=rng.choice(USED_FOR),
        broke=rng.choice(BROKE_AFTER), day=rng.choice(DAYS), month=rng.choice(MONTHS),
    )
    # A staff name can open a sentence ("the lady at the counter ...").
    return text[0].upper() + text[1:]


def compose_rows(seed: int = SEED, per_class: int = ROWS_PER_CLASS) -> list[tuple[str, str]]:
    """Every hand-written line once, then filled templates (each used a similar number of times)."""
    rng = random.Random(seed)
    rows: list[tuple[str, str]] = []
    for label, (templates, lines) in CLASSES.items():
        texts = list(dict.fromkeys(lines))
        # Cycle the templates in shuffled rounds so no template dominates a class.
        seen = set(texts)
        order: list[str] = []
        while len(texts) < per_class:
            if not order:
                order = templates[:]
                rng.shuffle(order)
            text = _fill(order.pop(), rng)
            if text not in seen:
                seen.add(text)
                texts.append(text)
        rows += [(text, label) for text in texts[:per_class]]
    rng.shuffle(rows)
    return rows


def render_csv(rows: list[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args(argv)
    rows = compose_rows()
    for text, _ in rows:
        words = len(text.split())
        assert 4 <= words <= 30, f"{words} words: {text}"
    content = render_csv(rows)
    if args.check:
        same = OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == content
        print("up to date" if same else f"{OUTPUT} is out of date")
        return 0 if same else 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(content, encoding="utf-8")
    print(f"wrote {len(rows)} rows to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
