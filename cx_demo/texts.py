"""German and English customer texts composed from many small parts, so no handful of templates repeats.

A text is built from an opener, a statement of the situation (topic x sentiment, with a product, a number of
days or an order number filled in), an optional feeling or request and a closer, each picked from several
phrasings per tone (angry, polite, sarcastic, happy, neutral), then roughened: informal lower case, emojis,
doubled punctuation and a few typos. `TextComposer` is seeded, so texts are deterministic per chunk.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TOPICS = ("delivery", "returns_refunds", "payment_billing", "product_quality", "account_login", "store_experience", "praise", "other")
SENTIMENTS = ("negative", "neutral", "positive")

PRODUCTS = {
    "de": ("„Winterjacke Alpina“", "„Sneaker Urban“", "„Wasserkocher Classic“", "„Bettwäsche Leinen“", "„Kopfhörer X2“", "„Parfüm Blüte“",
           "„Kinderroller Flitzer“", "„Laufschuhe Sprint“", "„Gartenschlauch 20m“", "„Pfanne Gusseisen“", "„Kleid Sommerwind“", "„Rucksack Tour“",
           "„Stehlampe Nordic“", "„Spielzeugauto Blitz“", "„Größe 38“-Stiefel"),
    "en": ("the winter jacket", "the sneakers", "the kettle", "the bed linen", "the headphones", "the perfume", "the kids' scooter",
           "the running shoes", "the garden hose", "the frying pan", "the dress", "the backpack", "the floor lamp", "the toy car"),
}
EMOJI = {"negative": ("😡", "😤", "🙄", "👎", "😞", "🤬"), "neutral": ("🤔", "🙂", "📦", ""), "positive": ("😍", "👍", "🙏", "❤️", "😊", "🎉")}

OPENERS = {
    "de": {"angry": ("Hallo,", "Also ehrlich,", "Sorry, aber", "Hallo zusammen,", ""), "polite": ("Guten Tag,", "Hallo liebes Lindenhaus-Team,", "Sehr geehrte Damen und Herren,", "Hallo,", "Moin,"),
           "sarcastic": ("Na super.", "Toll gemacht, Lindenhaus.", "Wow.", "Ganz großes Kino:"), "happy": ("Hallo ihr Lieben,", "Hey!", "Moin!", "Hallo,", ""), "neutral": ("Hallo,", "Guten Tag,", "Hi,", "")},
    "en": {"angry": ("Hi,", "Honestly,", "Sorry but", "Hello,", ""), "polite": ("Hello,", "Dear Lindenhaus team,", "Good morning,", "Hi there,"),
           "sarcastic": ("Great job.", "Well done, Lindenhaus.", "Wow.", "Just brilliant:"), "happy": ("Hi all,", "Hey!", "Hello!", ""), "neutral": ("Hi,", "Hello,", "")},
}
CLOSERS = {
    "de": {"angry": ("Das ist echt eine Frechheit!", "So nicht!!", "Ich bin wirklich sauer.", "Nie wieder.", "Ich erwarte eine schnelle Lösung."),
           "polite": ("Vielen Dank im Voraus.", "Viele Grüße", "Danke für Ihre Hilfe!", "Mit freundlichen Grüßen", "LG"),
           "sarcastic": ("Danke für nichts.", "Kundenservice vom Feinsten.", "Echt klasse.", "Weiter so..."),
           "happy": ("Danke euch!", "Weiter so!", "Top, gerne wieder.", "Liebe Grüße", "Bin begeistert."), "neutral": ("Danke.", "Grüße", "VG", "")},
    "en": {"angry": ("This is unacceptable!", "Not good enough!!", "I'm really annoyed.", "Never again.", "I expect a quick fix."),
           "polite": ("Thanks in advance.", "Kind regards", "Thank you for your help!", "Best wishes", "Cheers"),
           "sarcastic": ("Thanks for nothing.", "Customer service at its finest.", "Just great.", "Keep it up..."),
           "happy": ("Thanks so much!", "Keep it up!", "Top, will order again.", "Love it.", "Really impressed."), "neutral": ("Thanks.", "Regards", "")},
}
# Situations per (topic, sentiment); {p} product, {d} days, {o} order number.
SITUATIONS = {
    "de": {
        ("delivery", "negative"): ("Meine Bestellung {o} ist seit {d} Tagen überfällig.", "Wo bleibt mein Paket? Schon {d} Tage warte ich auf {p}.",
                                   "Laut Sendungsverfolgung zugestellt, aber hier ist nix angekommen.", "Die Lieferung von {p} wurde schon {n} mal verschoben.",
                                   "Paket kam total zerdrückt an, {p} ist beschädigt.", "Der Paketbote hat nicht mal geklingelt, jetzt liegt {p} irgendwo."),
        ("delivery", "neutral"): ("Wann kommt meine Bestellung {o}?", "Können Sie mir sagen, wo {p} gerade ist?", "Kann ich die Lieferadresse für {o} noch ändern?"),
        ("delivery", "positive"): ("{p} kam schon nach {n} Tagen, super schnell!", "Lieferung war mega fix, danke!", "Paket pünktlich da, alles bestens."),
        ("returns_refunds", "negative"): ("Ich habe {p} vor {d} Tagen zurückgeschickt und immer noch kein Geld zurück.", "Meine Erstattung für {o} fehlt weiterhin.",
                                          "Retoure ist angekommen, aber erstattet wurde nur die Hälfte.", "Warum dauert eine Rückerstattung {d} Tage??"),
        ("returns_refunds", "neutral"): ("Wie kann ich {p} umtauschen?", "Ich bräuchte ein Retourenlabel für {o}.", "Kann ich online Bestelltes in der Filiale zurückgeben?"),
        ("returns_refunds", "positive"): ("Umtausch hat problemlos geklappt.", "Geld für die Retoure war nach {n} Tagen da, danke!"),
        ("payment_billing", "negative"): ("Mir wurde die Bestellung {o} doppelt abgebucht!", "Ich habe eine Mahnung bekommen, obwohl ich längst bezahlt habe.", "Die Rechnung stimmt nicht, der Gutschein wurde nicht abgezogen."),
        ("payment_billing", "neutral"): ("Kann ich auch auf Rechnung zahlen?", "Bitte schicken Sie mir die Rechnung zu {o} nochmal.", "Geht Ratenzahlung bei {p}?"),
        ("payment_billing", "positive"): ("Bezahlung mit PayPal ging total easy.",),
        ("product_quality", "negative"): ("{p} ist nach {n} Wochen kaputt gegangen.", "Statt {p} kam ein völlig anderer Artikel.", "Die Qualität von {p} ist unterirdisch.",
                                          "{p} riecht komisch und die Naht ist offen.", "Falsche Größe geliefert, obwohl ich richtig bestellt habe."),
        ("product_quality", "neutral"): ("Ist {p} auch waschmaschinenfest?", "Welche Größe fällt bei {p} normal aus?", "Gibt es für {p} Ersatzteile?"),
        ("product_quality", "positive"): ("{p} ist richtig hochwertig verarbeitet.", "Super Qualität, {p} hält was es verspricht.", "Mit {p} bin ich total zufrieden."),
        ("account_login", "negative"): ("Ich komme seit {d} Tagen nicht in mein Konto.", "Passwort zurücksetzen funktioniert einfach nicht.", "Mein Konto wurde gesperrt, warum??"),
        ("account_login", "neutral"): ("Wie ändere ich meine E-Mail-Adresse im Konto?", "Ich möchte mein Kundenkonto löschen.", "Wo finde ich meine Bestellungen in der App?"),
        ("account_login", "positive"): ("Login mit der neuen App klappt super.",),
        ("store_experience", "negative"): ("In der Filiale musste ich {n}0 Minuten an der Kasse warten.", "Die Verkäuferin war richtig unfreundlich.", "Im Laden war {p} nicht da, obwohl die App was anderes sagt."),
        ("store_experience", "neutral"): ("Hat die Filiale am Samstag länger offen?", "Ist {p} in der Filiale vorrätig?"),
        ("store_experience", "positive"): ("Sehr nette Beratung in der Filiale!", "Die Mitarbeiter im Laden waren super hilfsbereit."),
        ("praise", "positive"): ("Ich liebe euren Shop!", "Bester Service, den ich je hatte.", "Immer wieder gerne bei Lindenhaus.", "{p} ist der Hammer!", "Ihr seid einfach klasse."),
        ("praise", "neutral"): ("Ganz okay soweit.", "Passt schon."),
        ("other", "negative"): ("Euer Newsletter nervt, viel zu oft.", "Die Website ist total langsam.", "Die App stürzt ständig ab."),
        ("other", "neutral"): ("Habt ihr bald wieder Rabatte?", "Gibt es {p} auch in blau?", "Wann ist der nächste Sale?", "Kommt ihr auch nach Graz?"),
        ("other", "positive"): ("Tolle Aktion am Wochenende!", "Die neue Kollektion ist richtig schön."),
    },
    "en": {
        ("delivery", "negative"): ("My order {o} is {d} days late.", "Where is my parcel? Been waiting {d} days for {p}.", "Tracking says delivered but nothing arrived.",
                                   "Delivery of {p} was postponed {n} times already.", "The box arrived crushed and {p} is damaged."),
        ("delivery", "neutral"): ("When will order {o} arrive?", "Can you tell me where {p} is right now?", "Can I still change the delivery address for {o}?"),
        ("delivery", "positive"): ("{p} arrived after just {n} days, super fast!", "Delivery was really quick, thanks!", "Parcel arrived on time, all good."),
        ("returns_refunds", "negative"): ("I sent {p} back {d} days ago and still no refund.", "My refund for {o} is still missing.", "Why does a refund take {d} days??"),
        ("returns_refunds", "neutral"): ("How can I exchange {p}?", "I need a return label for {o}.", "Can I return an online order in a store?"),
        ("returns_refunds", "positive"): ("Exchange was painless.", "Refund arrived after {n} days, thank you!"),
        ("payment_billing", "negative"): ("I was charged twice for order {o}!", "Got a reminder although I paid ages ago.", "The invoice is wrong, my voucher was not applied."),
        ("payment_billing", "neutral"): ("Can I pay by invoice?", "Please resend the invoice for {o}.", "Is there an instalment option for {p}?"),
        ("payment_billing", "positive"): ("Paying with PayPal was really easy.",),
        ("product_quality", "negative"): ("{p} broke after {n} weeks.", "I received a completely different item instead of {p}.", "The quality of {p} is terrible.", "Wrong size delivered although I ordered correctly."),
        ("product_quality", "neutral"): ("Is {p} machine washable?", "Does {p} run true to size?", "Are spare parts available for {p}?"),
        ("product_quality", "positive"): ("{p} is really well made.", "Great quality, {p} is exactly as described.", "Totally happy with {p}."),
        ("account_login", "negative"): ("I haven't been able to log in for {d} days.", "Password reset just doesn't work.", "My account got locked, why??"),
        ("account_login", "neutral"): ("How do I change my e-mail address?", "I'd like to delete my account.", "Where do I find my orders in the app?"),
        ("account_login", "positive"): ("Login with the new app works great.",),
        ("store_experience", "negative"): ("Had to queue {n}0 minutes at the till.", "The shop assistant was really rude.", "{p} wasn't in stock although the app said so."),
        ("store_experience", "neutral"): ("Is the store open longer on Saturday?", "Do you have {p} in store?"),
        ("store_experience", "positive"): ("Very friendly advice in the store!", "Staff in the shop were super helpful."),
        ("praise", "positive"): ("Love your shop!", "Best service I've ever had.", "Always happy to shop at Lindenhaus.", "{p} is awesome!", "You guys rock."),
        ("praise", "neutral"): ("It's okay so far.", "Fine I guess."),
        ("other", "negative"): ("Your newsletter is way too frequent.", "The website is so slow.", "The app keeps crashing."),
        ("other", "neutral"): ("Any discounts coming up?", "Is {p} available in blue?", "When is the next sale?"),
        ("other", "positive"): ("Great deal this weekend!", "The new collection looks lovely."),
    },
}
# Context a customer adds now and then; topic entries are complaints (or praise), "any" fits every text.
DETAILS = {
    "de": {"any": ("Bestellt hatte ich am {w}.", "Das war ein Geschenk für meine Tochter.", "Bin seit Jahren Kundin bei euch.", "Ich hab extra frei genommen.",
                   "Kundennummer hab ich grad nicht zur Hand.", "Mein Mann hat auch schon nachgefragt.", "Steht alles im Anhang."),
           "delivery": ("Obwohl ich Expressversand bezahlt habe!", "DHL sagt, es liegt an euch.", "Die Packstation war angeblich voll."),
           "returns_refunds": ("Den Einlieferungsbeleg habe ich noch.", "Die Retoure ging per Hermes zurück."),
           "payment_billing": ("Bezahlt hatte ich per {m}.", "Der Betrag war {e} Euro."),
           "product_quality": ("Ich habe Fotos gemacht.", "Der Artikel wurde nur einmal benutzt."),
           "praise": ("Die Verpackung war auch nachhaltig.", "Die Beratung im Chat war top.")},
    "en": {"any": ("I ordered on {w}.", "It was a present for my daughter.", "I've been a customer for years.", "I took a day off for this.",
                   "Don't have my customer number at hand.", "My husband asked already too.", "Details attached."),
           "delivery": ("Even though I paid for express shipping!", "DHL says it's your fault.", "Apparently the parcel locker was full."),
           "returns_refunds": ("I still have the drop-off receipt.", "Sent the return via Hermes."),
           "payment_billing": ("I paid by {m}.", "The amount was {e} euros."),
           "product_quality": ("I took photos.", "Only used it once."),
           "praise": ("Packaging was sustainable too.", "The chat support was great.")},
}
WEEKDAYS = {"de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
            "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}
PAYMENT_NAMES = ("PayPal", "Kreditkarte", "Klarna", "Rechnung", "Apple Pay")
REPEAT = {"de": ("Ich melde mich jetzt schon zum {n}. Mal!", "Hatte schon angerufen, aber nichts passiert.", "Bereits per Mail geschrieben, keine Antwort."),
          "en": ("This is my {n}th time contacting you!", "I already called, nothing happened.", "Already wrote an e-mail, no answer.")}
REQUESTS = {
    "negative": {"de": ("Bitte um Rückmeldung.", "Ich will mein Geld zurück.", "Können Sie das bitte klären?", "Bitte rufen Sie mich zurück."),
                 "en": ("Please get back to me.", "I want my money back.", "Can you sort this out please?", "Please call me back.")},
    "neutral": {"de": ("Danke für eine kurze Info.", "Freue mich auf Antwort."), "en": ("Thanks for a quick reply.", "Looking forward to your answer.")},
    "positive": {"de": ("Macht weiter so!", "Gerne wieder."), "en": ("Keep it up!", "Will come back.")},
}
SUBJECTS = {
    "de": {"delivery": ("Lieferung", "Wo ist mein Paket", "Bestellung {o} nicht angekommen", "Versandstatus"), "returns_refunds": ("Erstattung", "Retoure {o}", "Rückerstattung fehlt", "Umtausch"),
           "payment_billing": ("Rechnung", "Doppelte Abbuchung", "Zahlung {o}", "Mahnung"), "product_quality": ("Reklamation", "Defekter Artikel", "Falscher Artikel geliefert", "Mangel"),
           "account_login": ("Login Problem", "Passwort", "Konto gesperrt"), "store_experience": ("Beschwerde Filiale", "Filiale"), "praise": ("Lob", "Danke!"), "other": ("Frage", "Anfrage")},
    "en": {"delivery": ("Delivery", "Where is my parcel", "Order {o} not received", "Shipping status"), "returns_refunds": ("Refund", "Return {o}", "Refund missing", "Exchange"),
           "payment_billing": ("Invoice", "Charged twice", "Payment {o}", "Payment reminder"), "product_quality": ("Complaint", "Broken item", "Wrong item delivered", "Defect"),
           "account_login": ("Login problem", "Password", "Account locked"), "store_experience": ("Store complaint", "Store"), "praise": ("Thank you", "Praise"), "other": ("Question", "Request")},
}
BOT = {"de": ("Hallo! Ich bin Lindi, der digitale Assistent. Wie kann ich helfen?", "Hi, hier ist Lindi 🤖 Worum geht es?", "Willkommen beim Lindenhaus-Chat! Was kann ich für dich tun?"),
       "en": ("Hi! I'm Lindi, the digital assistant. How can I help?", "Hello, Lindi here 🤖 What is it about?", "Welcome to Lindenhaus chat! What can I do for you?")}
BOT_ANSWER = {"de": ("Das tut mir leid. Hier findest du Infos: lindenhaus.de/hilfe", "Ich habe deine Bestellung gefunden. Sie ist unterwegs.", "Dazu habe ich einen Hilfeartikel für dich."),
              "en": ("Sorry about that. Here is some info: lindenhaus.de/help", "I found your order. It is on its way.", "I have a help article for you on that.")}
HANDOVER = {"de": ("Ich verbinde dich mit einer Kollegin.", "Einen Moment, ein Mitarbeiter übernimmt gleich."), "en": ("Let me connect you to a colleague.", "One moment, an agent will take over.")}
AGENT = {"de": ("Hallo, hier ist {a}. Ich kümmere mich sofort darum.", "Danke für die Geduld, ich habe das für Sie geprüft.", "Entschuldigung für die Umstände, wir erstatten den Betrag."),
         "en": ("Hi, this is {a}. I'll take care of it right away.", "Thanks for waiting, I have checked that for you.", "Sorry for the trouble, we will refund the amount.")}
BRAND_REPLY = {"de": ("Oh nein, das tut uns leid! Schreib uns bitte eine DM mit deiner Bestellnummer.", "Danke für dein Feedback! 😊", "Das freut uns riesig! ❤️",
                      "Hallo, wir schauen uns das an. Bitte per DM melden.", "Danke dir! Viel Spaß damit."),
               "en": ("Oh no, sorry about that! Please DM us your order number.", "Thanks for your feedback! 😊", "So glad to hear that! ❤️", "Hi, we're looking into it. Please DM us.")}
AGENT_NAMES = ("Jana", "Tim", "Aylin", "Marco", "Sophie", "Kevin", "Nina", "Deniz")
TONES = {"negative": ("angry", "polite", "sarcastic"), "neutral": ("polite", "neutral"), "positive": ("happy", "polite")}
KEYBOARD_NEIGHBOURS = {"e": "wr", "a": "sq", "i": "uo", "n": "bm", "r": "et", "t": "rz", "s": "ad", "o": "ip", "u": "zi", "h": "gj"}


@dataclass(frozen=True)
class Facts:
    order_number: str = ""
    repeat_count: int = 1


class TextComposer:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def _fill(self, template: str, language: str, facts: Facts) -> str:
        r = self.r
        order = facts.order_number or r.choice(("", "#")) + str(r.randint(100000, 999999))
        return template.format(p=r.choice(PRODUCTS[language]), d=r.randint(3, 21), n=r.randint(2, 6), o=order, a=r.choice(AGENT_NAMES),
                               w=r.choice(WEEKDAYS[language]), m=r.choice(PAYMENT_NAMES), e=f"{r.randint(9, 300)},{r.randint(0, 99):02d}")

    def _situation(self, topic: str, sentiment: str, language: str, facts: Facts) -> str:
        options = SITUATIONS[language].get((topic, sentiment)) or SITUATIONS[language][("other", sentiment)]
        return self._fill(self.r.choice(options), language, facts)

    def message(self, topic: str, sentiment: str, language: str, facts: Facts = Facts(), short: bool = False) -> str:
        """A customer's message: opener, situation, repeat-contact remark, request, closer, then roughened."""
        r = self.r
        tone = r.choice(TONES[sentiment])
        parts = [] if short and r.random() < 0.6 else [r.choice(OPENERS[language][tone])]
        situation = self._situation(topic, sentiment, language, facts)
        if parts and parts[0] and parts[0][-1] not in ".:!" and situation[:1].isupper() and not situation.startswith("I "):
            situation = situation[0].lower() + situation[1:]  # "Sorry, aber meine ..." continues the sentence
        parts.append(situation)
        if facts.repeat_count > 1 and sentiment == "negative":
            parts.append(self._fill(r.choice(REPEAT[language]), language, Facts(facts.order_number)).replace("{n}", str(facts.repeat_count)))
        if r.random() < (0.2 if short else 0.45):
            details = DETAILS[language]
            fitting = details.get(topic, ()) if sentiment == "negative" or topic == "praise" else ()
            parts.append(self._fill(r.choice(fitting + details["any"]), language, facts))
        if not short and r.random() < 0.6:
            parts.append(r.choice(REQUESTS[sentiment][language]))
        if r.random() < (0.4 if short else 0.75):
            parts.append(r.choice(CLOSERS[language][tone]))
        text = " ".join(p for p in parts if p)
        return self._roughen(text, sentiment, informal=short)

    def subject(self, topic: str, language: str, facts: Facts = Facts()) -> str:
        text = self._fill(self.r.choice(SUBJECTS[language][topic]), language, facts)
        return text.upper() if self.r.random() < 0.05 else text

    def comment(self, topic: str, sentiment: str, language: str) -> str:
        return self.message(topic, sentiment, language, short=True)

    def bot(self, language: str) -> str:
        return self.r.choice(BOT[language])

    def bot_answer(self, language: str) -> str:
        return self.r.choice(BOT_ANSWER[language])

    def handover(self, language: str) -> str:
        return self.r.choice(HANDOVER[language])

    def agent(self, language: str) -> str:
        return self._fill(self.r.choice(AGENT[language]), language, Facts())

    def brand_reply(self, language: str, sentiment: str) -> str:
        options = BRAND_REPLY[language]
        return options[self.r.randrange(len(options))] if sentiment != "positive" else options[2]

    def _roughen(self, text: str, sentiment: str, informal: bool) -> str:
        r = self.r
        if informal and r.random() < 0.35:
            text = text.lower()
        if r.random() < 0.08:
            text = self._typo(text)
        if r.random() < 0.06:
            text = self._typo(text)
        if sentiment == "negative" and r.random() < 0.15:
            text = text.replace(".", "!!", 1)
        if r.random() < (0.4 if informal else 0.12):
            text = f"{text} {r.choice(EMOJI[sentiment])}".rstrip()
        return text

    def _typo(self, text: str) -> str:
        r = self.r
        positions = [i for i, c in enumerate(text) if c in KEYBOARD_NEIGHBOURS]
        if not positions:
            return text
        i = r.choice(positions)
        kind = r.random()
        if kind < 0.4:
            return text[:i] + r.choice(KEYBOARD_NEIGHBOURS[text[i]]) + text[i + 1:]
        if kind < 0.7:
            return text[:i] + text[i + 1:]
        return text[:i] + text[i] + text[i:]
