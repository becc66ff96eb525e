"""Claim extraction (pipeline/extract): one behaviour a test.

The component tests build pipelines from `spacy.blank("en")` plus the project's components; the rule
tests need the dependency parse, so they run the full model once per module (`nlp` fixture). Every
article below is written for the test, about conflicts other than the evaluation sets' stories, so
that no rule can pass by knowing a dev sentence.
"""

from __future__ import annotations

import pytest
import spacy

from pipeline.extract import EXTRACTOR_VERSION, add_components, extract_articles, load_pipeline
from pipeline.extract.resources import load_cues, load_gazetteer
from pipeline.models import Article

# --------------------------------------------------------------------------- components on spacy.blank


@pytest.fixture(scope="module")
def blank():
    nlp = spacy.blank("en")
    nlp.add_pipe("talkwatch_paragraphs")
    nlp.add_pipe("talkwatch_actors")
    return nlp


def _actors(nlp, text: str) -> list[tuple[str, str, str]]:
    doc = nlp(text)
    return [(s.text, s.label_, s.kb_id_) for s in doc.spans["tw_actors"]]


def test_actor_aliases_in_several_spellings_map_to_one_code(blank):
    found = _actors(blank, "Kyiv and Kiev, Zelensky, Zelenskyy and Zelenskiy.")
    codes = {code for _text, code, _person in found}
    assert codes == {"UKR"}
    assert len(found) == 5


def test_leaders_are_actors_with_their_name(blank):
    found = _actors(blank, "Putin met Erdogan.")
    assert ("Putin", "RUS", "Vladimir Putin") in found


def test_outlet_names_are_not_the_capital_they_contain(blank):
    found = _actors(blank, "The Washington Post and the Kyiv Independent reported it.")
    assert found == []


def test_a_place_in_an_outlets_name_is_no_actor(blank):
    got = _actors(blank, "The Jerusalem Herald and the Addis Standard quoted Israel and Ethiopia.")
    assert [a[1] for a in got] == ["ISR", "ETH"], got


def test_a_line_break_starts_a_sentence_before_parsing(blank):
    doc = blank("Ceasefire talks resume in Doha\nNegotiators met on Monday")
    starts = [t.text for t in doc if t.is_sent_start]
    assert "Negotiators" in starts


def test_plural_generic_sides_are_also_known_by_their_lemma():
    gaz = load_gazetteer()
    assert {"rebels", "rebel", "terrorists", "terrorist"} <= gaz.generic_nonstate


def test_cue_lists_are_data():
    cues = load_cues()
    assert "feasibility" in cues.raw["path_noun_status"]
    assert "attempt" in cues.words("no_claim_nouns")
    assert "leader" in cues.words("role_nouns")


# --------------------------------------------------------------------------- rules on the full model


@pytest.fixture(scope="module")
def nlp():
    return load_pipeline()


def _claims(nlp, text: str, title: str = "", published: str = "2025-03-20", outlet: str = "Test Wire"):
    art = Article(id="t1", outlet=outlet, url="https://example.org/t1", published=published, title=title, text=text)
    [(_art, claims)] = list(extract_articles([art], nlp=nlp))
    return claims


def _pairs(claims, attr: str = "source_key") -> list[tuple]:
    """(status, attribute) of each claim: what a test compares, and what it prints when it fails."""
    return [(c.status, getattr(c, attr)) for c in claims]


def _one(claims, status: str):
    got = [c for c in claims if c.status == status]
    assert len(got) == 1, [(c.status, c.source, c.evidence) for c in claims]
    return got[0]


@pytest.mark.slow
def test_the_seed_story_gives_the_reported_talks_and_the_denial(nlp, shared_dir):
    title, _, text = (shared_dir / "seed" / "zakharova_denial.txt").read_text(encoding="utf-8").partition("\n")
    claims = _claims(nlp, text, title=title, published="2024-08-18", outlet="Seed Wire")
    planned = [c for c in claims if c.status == "planned" and c.source_key == "washington-post"]
    denied = [c for c in claims if c.status == "denied" and c.source_key == "maria-zakharova"]
    assert planned and denied
    assert planned[0].parties == denied[0].parties == ["RUS", "UKR"]
    assert denied[0].source_org and "Foreign Ministry" in denied[0].source_org
    assert "no such negotiations" in denied[0].evidence
    assert any(c.hedged for c in planned) and denied[0].event_time is None  # "Seems like ... claimed"
    assert any(c.venue == "Qatar" for c in planned)


@pytest.mark.slow
def test_a_named_speaker_is_the_source_and_the_outlet_reports_it(nlp):
    c = _one(_claims(nlp, "Ethiopia and the TPLF have agreed to a ceasefire, African Union envoy Olusegun Obasanjo said."),
             "agreed")
    assert (c.source, c.source_key, c.reported_by) == ("Olusegun Obasanjo", "olusegun-obasanjo", "Test Wire")
    assert c.parties == ["ETH", "TPLF"] and c.topic == "ceasefire"


@pytest.mark.slow
def test_anonymous_officials_leave_the_outlet_as_source(nlp):
    c = _one(_claims(nlp, "Talks between Hamas and Israel resumed in Cairo on Monday, officials said."), "ongoing")
    assert c.source == "Test Wire"


@pytest.mark.slow
def test_an_anonymous_source_speaking_to_another_outlet_is_that_outlet(nlp):
    c = _one(_claims(nlp, "A senior security source told Reuters that the army and the RSF were holding talks in Jeddah."),
             "ongoing")
    assert c.source == "Reuters" and c.parties == ["RSF", "SDN"]


@pytest.mark.slow
def test_a_denial_of_reported_talks_yields_both_claims(nlp):
    claims = _claims(nlp, "The Houthis dismissed claims by Saudi Arabia that the two sides were holding secret talks.")
    assert {(c.status, c.source_key) for c in claims} >= {("denied", "houthis")}
    assert any(c.status == "ongoing" and c.parties == ["HOUTHIS", "SAU"] for c in claims)


@pytest.mark.slow
def test_a_denial_of_unowned_reports_is_only_the_denial(nlp):
    claims = _claims(nlp, "Hamas laughed off reports that it had reached a ceasefire with Israel.")
    assert _pairs(claims) == [("no_deal", "hamas")]


@pytest.mark.slow
def test_a_pronoun_speaker_is_the_last_named_speaker(nlp):
    text = ('M23 spokesman Lawrence Kanyuka said the rebels had walked out of the Doha talks. '
            '"We will not return to the negotiations," he added.')
    c = _one(_claims(nlp, text), "rejected")
    assert c.source == "Lawrence Kanyuka"


@pytest.mark.slow
def test_a_name_inside_a_quotation_is_not_its_speaker(nlp):
    text = ('"We did not negotiate with anyone. God knows we never will," the RSF commander Mohamed Hamdan Dagalo '
            'said of talks with the Sudanese army.')
    claims = _claims(nlp, text)
    assert claims and all(c.source_key != "god" for c in claims)


@pytest.mark.slow
def test_a_role_phrase_refers_back_to_the_person_given_that_role(nlp):
    text = ("Houthi leader Abdul-Malik al-Houthi spoke on television on Thursday. "
            "The group's leader denied that any talks with Saudi Arabia were taking place.")
    c = _one(_claims(nlp, text), "denied")
    assert c.source == "Abdul-Malik al-Houthi"


@pytest.mark.slow
def test_the_description_of_a_speaker_is_in_the_outlets_voice(nlp):
    text = ('"The ceasefire will hold," said Amir Saleh, who represented Sudan at talks with the RSF in Jeddah.')
    held = _one(_claims(nlp, text), "held")
    assert held.source == "Test Wire"


@pytest.mark.slow
def test_a_trailing_citation_does_not_replace_the_speaker(nlp):
    text = "Israeli army spokesman Daniel Hagari said the truce with Hamas was still holding, the Times reported."
    c = _one(_claims(nlp, text), "agreed")
    assert c.source == "Daniel Hagari"


@pytest.mark.slow
def test_a_ceasefire_declared_by_one_armed_group_is_an_offer(nlp):
    c = _one(_claims(nlp, "The M23 rebels announced a ceasefire on Tuesday."), "proposed")
    assert c.source_key == "m23"


@pytest.mark.slow
def test_positions_in_the_article_voice_belong_to_the_party(nlp):
    c = _one(_claims(nlp, "Colombia's government wants to negotiate with the ELN, but the rebels refuse."), "proposed")
    assert c.source_key == "colombia-government"


@pytest.mark.slow
def test_no_plans_for_talks_is_a_denial_and_preparations_are_a_plan(nlp):
    c = _one(_claims(nlp, "A Hamas spokesman, Hazem Qassem, said there were no plans for talks with Israel in Cairo."),
             "denied")
    assert c.parties == ["HAMAS", "ISR"] and c.source_key == "hazem-qassem"
    c = _one(_claims(nlp, "Preparations for talks between Sudan's army and the RSF in Jeddah are under way, "
                          "Saudi officials said."), "planned")
    assert c.parties == ["RSF", "SDN"]
    c = _one(_claims(nlp, "Azerbaijani officials said there had been no progress in the peace talks with Armenia."),
             "stalled")
    assert c.parties == ["ARM", "AZE"]


@pytest.mark.slow
def test_close_to_a_deal_is_talks_under_way_and_could_be_signed_is_a_plan(nlp):
    c = _one(_claims(nlp, "Colombia and the ELN are close to a ceasefire agreement, the chief government negotiator said."),
             "ongoing")
    assert c.parties == ["COL", "ELN"]
    claims = _claims(nlp, "A peace treaty between Armenia and Azerbaijan could be signed this year, Armenia's prime "
                          "minister said.")
    assert [c.status for c in claims] == ["planned"], _pairs(claims, "evidence")


@pytest.mark.slow
def test_a_trailing_speaker_the_parser_left_unattached_is_the_source(nlp):
    c = _one(_claims(nlp, "Israel and Hezbollah agreed to a 60-day truce, France and the United States said in a joint "
                          "statement."), "agreed")
    assert c.source_key == "france-government", c.source


@pytest.mark.slow
def test_sides_meeting_to_discuss_a_truce_is_one_held_claim(nlp):
    claims = _claims(nlp, "Sudanese and RSF commanders met in Geneva on Monday to discuss a truce.", published="2025-06-03")
    assert [c.status for c in claims] == ["held"], _pairs(claims, "evidence")
    assert claims[0].parties == ["RSF", "SDN"] and claims[0].venue == "Geneva"


@pytest.mark.slow
def test_ready_to_accept_a_proposal_is_an_acceptance(nlp):
    c = _one(_claims(nlp, "The Houthis said they were ready to accept a Saudi proposal for a nationwide truce."), "accepted")
    assert c.parties == ["HOUTHIS", "SAU"] and c.source_key == "houthis"


@pytest.mark.slow
def test_talks_held_on_a_truce_are_talks_not_an_agreed_truce(nlp):
    claims = _claims(nlp, "Sudanese army and RSF envoys are conducting talks in Jeddah over a nationwide truce, "
                          "diplomats said.")
    assert [c.status for c in claims] == ["ongoing"], _pairs(claims, "evidence")


@pytest.mark.slow
def test_no_deal_expected_is_no_deal(nlp):
    c = _one(_claims(nlp, "Houthi negotiator Mohammed Abdulsalam said no agreement with Saudi Arabia was expected soon."),
             "no_deal")
    assert c.parties == ["HOUTHIS", "SAU"] and c.source_key == "mohammed-abdulsalam"


@pytest.mark.slow
def test_saying_after_denying_something_else_is_not_a_denial(nlp):
    claims = _claims(nlp, "The M23 rebels dismissed the allegations and said the ceasefire with Kinshasa was holding.")
    assert _pairs(claims) == [("agreed", "m23")], _pairs(claims, "source")


@pytest.mark.slow
def test_rejecting_an_offer_of_talks_is_only_the_rejection(nlp):
    claims = _claims(nlp, "The TTP rejected an offer of negotiations from Pakistan's government on Sunday.")
    assert _pairs(claims) == [("rejected", "ttp")], _pairs(claims, "source")


@pytest.mark.slow
def test_being_in_talks_is_ongoing_and_talks_not_begun_are_denied(nlp):
    c = _one(_claims(nlp, "Armenia and Azerbaijan are in direct talks on a border deal, diplomats said."), "ongoing")
    assert c.parties == ["ARM", "AZE"]
    c = _one(_claims(nlp, "Talks between the ELN and the Colombian government have not begun, the rebels said."),
             "denied")
    assert c.source_key == "eln"


@pytest.mark.slow
def test_a_truce_that_absent_contacts_are_about_is_not_agreed(nlp):
    claims = _claims(nlp, "Kremlin aide Yuri Ushakov said there had been no contacts with Kyiv about a truce.")
    assert _pairs(claims) == [("denied", "yuri-ushakov")], _pairs(claims, "source")


@pytest.mark.slow
def test_talks_an_offer_would_mediate_are_only_the_offer(nlp):
    claims = _claims(nlp, "Thailand accepted Malaysia's offer to host talks with Cambodia, the Thai government said.")
    assert _pairs(claims, "parties") == [("accepted", ["KHM", "THA"])], _pairs(claims, "source")


@pytest.mark.slow
def test_headlines_without_a_full_clause(nlp):
    c = _one(_claims(nlp, "", title="Armenia, Azerbaijan to meet in Abu Dhabi next week"), "planned")
    assert c.parties == ["ARM", "AZE"] and c.source == "Test Wire"
    c = _one(_claims(nlp, "", title="Hamas: No talks with Israel scheduled"), "denied")
    assert c.parties == ["HAMAS", "ISR"] and c.source_key == "hamas"
    c = _one(_claims(nlp, "", title="Sudan army, RSF near truce in Jeddah - diplomats"), "ongoing")
    assert c.parties == ["RSF", "SDN"]


@pytest.mark.slow
def test_a_country_naming_the_war_is_a_weaker_side_than_one_at_the_table(nlp):
    claims = _claims(nlp, "", title="Houthis, Saudi Arabia close to a deal to end the Yemen war, sources say")
    assert _pairs(claims, "parties") == [("ongoing", ["HOUTHIS", "SAU"])], _pairs(claims, "parties")


@pytest.mark.slow
def test_a_prisoner_swap_carried_out_is_an_agreed_humanitarian_deal(nlp):
    c = _one(_claims(nlp, "Kyiv and Moscow swapped 150 prisoners each on Sunday, the UAE foreign ministry said."), "agreed")
    assert c.parties == ["RUS", "UKR"] and c.topic == "humanitarian"


@pytest.mark.slow
def test_promising_to_respect_a_truce_is_an_acceptance(nlp):
    c = _one(_claims(nlp, "The Houthis said they would respect the truce as long as Saudi Arabia did the same."), "accepted")
    assert c.parties == ["HOUTHIS", "SAU"]


@pytest.mark.slow
def test_talks_that_ended_without_a_deal_are_no_deal_and_unsuspended_talks_go_on(nlp):
    c = _one(_claims(nlp, "Talks between the army and the RSF in Jeddah ended without an agreement, Saudi diplomats said."),
             "no_deal")
    assert c.parties == ["RSF", "SDN"]
    c = _one(_claims(nlp, "The ELN said its peace talks with the government had not been suspended."), "ongoing")
    assert c.source_key == "eln"


@pytest.mark.slow
def test_denied_plans_and_no_new_round_are_denials(nlp):
    c = _one(_claims(nlp, "", title="Pakistan denies plans for talks with the TTP"), "denied")
    assert c.parties == ["PAK", "TTP"] and c.source_key == "pakistan-government"
    c = _one(_claims(nlp, "No new round of negotiations between Armenia and Azerbaijan is being prepared, Baku said."),
             "denied")
    assert c.source_key == "azerbaijan-government"


@pytest.mark.slow
def test_hypothetical_talks_are_no_plan(nlp):
    claims = _claims(nlp, "Any negotiations with the RSF would have to wait until it leaves the cities, the Sudanese army said.")
    assert "planned" not in [c.status for c in claims], _pairs(claims, "evidence")


@pytest.mark.slow
def test_a_sentence_naming_both_sides_of_another_conflict_keeps_them(nlp):
    text = ("M23 rebels and Congo's army clashed near Goma on Monday. M23 said talks with Kinshasa would resume in Doha.\n"
            "Congo and Rwanda signed a separate peace agreement in Washington in June.")
    claims = _claims(nlp, text, published="2025-08-04")
    agreed = _one(claims, "agreed")
    assert agreed.parties == ["COD", "RWA"] and agreed.event_time == "2025-06"
    assert _one(claims, "planned").parties == ["COD", "M23"]


@pytest.mark.slow
def test_myanmar_armed_groups_are_parties(nlp):
    c = _one(_claims(nlp, "Myanmar's military and the TNLA agreed to a ceasefire in talks in Kunming, China said."), "agreed")
    assert c.parties == ["MMR", "TNLA"] and c.mediator is None and c.source_key == "china-government"


@pytest.mark.slow
def test_agreeing_to_meet_and_being_expected_to_reconvene_are_plans(nlp):
    claims = _claims(nlp, "Negotiators from both sides agreed to meet again in Doha next week, a Hamas official said.")
    assert [c.status for c in claims] == ["planned"], _pairs(claims, "evidence")
    claims = _claims(nlp, "Talks between Colombia and the ELN in Caracas ended without a deal, but both delegations are "
                          "expected to reconvene in March, mediators said.", published="2025-02-10")
    assert sorted(c.status for c in claims) == ["no_deal", "planned"], _pairs(claims, "evidence")


@pytest.mark.slow
def test_an_outlet_named_with_its_owner_is_the_outlet_and_the_channel_refers_back(nlp):
    text = ("Hamas and Israel are close to finalizing a hostage deal, according to the Qatar-funded Al-Araby TV.\n"
            "The channel said the two delegations had held three rounds of talks in Doha this month.")
    claims = _claims(nlp, text)
    assert {(c.status, c.source) for c in claims} == {("ongoing", "Al-Araby TV"), ("held", "Al-Araby TV")}, \
        _pairs(claims, "source")


@pytest.mark.slow
def test_an_institution_named_after_the_truce_and_the_content_of_a_plan_are_no_claims(nlp):
    claims = _claims(nlp, "The ceasefire monitoring committee will meet in Naqoura on Monday, the Lebanese army said.")
    assert [c.status for c in claims] in ([], ["planned"]), _pairs(claims, "evidence")
    assert "agreed" not in [c.status for c in claims]
    claims = _claims(nlp, "Sudan's army and the RSF discussed a roadmap that would include a nationwide truce, "
                          "mediators said.")
    assert "agreed" not in [c.status for c in claims], _pairs(claims, "evidence")


@pytest.mark.slow
def test_calling_reports_of_a_deal_baseless_is_only_the_denial(nlp):
    claims = _claims(nlp, "Houthi spokesman Mohammed Abdulsalam called reports of an imminent deal with Saudi Arabia "
                          "baseless.")
    assert _pairs(claims) == [("no_deal", "mohammed-abdulsalam")], \
        _pairs(claims, "source")


@pytest.mark.slow
def test_no_talks_agreed_is_a_denial_and_an_unbroken_dialogue_goes_on(nlp):
    claims = _claims(nlp, "The Sudanese army said no negotiations with the RSF had been agreed.")
    assert [c.status for c in claims] == ["denied"], _pairs(claims, "evidence")
    claims = _claims(nlp, '"The negotiating table with the government has not been broken," ELN commander Antonio Garcia said.')
    assert [c.status for c in claims] == ["ongoing"], _pairs(claims, "evidence")


@pytest.mark.slow
def test_ready_to_observe_a_truce_is_a_proposal_and_arriving_to_resume_talks_is_talks_under_way(nlp):
    c = _one(_claims(nlp, "Hezbollah is ready to observe a truce with Israel, its deputy leader said."), "proposed")
    assert c.parties == ["HEZBOLLAH", "ISR"]
    c = _one(_claims(nlp, "A Hamas delegation arrived in Cairo on Sunday to resume talks with Israel, Egyptian sources said."),
             "ongoing")
    assert c.parties == ["HAMAS", "ISR"]


@pytest.mark.slow
def test_a_statement_the_speaker_made_is_no_unowned_report(nlp):
    c = _one(_claims(nlp, "The Sudanese foreign ministry said in a statement that talks with the RSF were continuing "
                          "in Jeddah."), "ongoing")
    assert c.source_key == "sudanese-foreign-ministry"


@pytest.mark.slow
def test_no_proposal_for_talks_is_one_denial(nlp):
    claims = _claims(nlp, "There is no proposal for negotiations with the TTP, Pakistan's interior minister said.")
    assert [c.status for c in claims] == ["denied"], _pairs(claims, "evidence")


@pytest.mark.slow
def test_a_deal_reached_following_talks_says_the_talks_were_held(nlp):
    claims = _claims(nlp, "Armenia and Azerbaijan initialled a peace treaty following talks in Abu Dhabi, the White House said.")
    assert sorted(c.status for c in claims) == ["agreed", "held"], _pairs(claims, "evidence")


@pytest.mark.slow
def test_names_beside_roles_and_outlet_nouns_are_the_source(nlp):
    c = _one(_claims(nlp, "Hamas's chief negotiator, Abu Ramzi, said talks with Israel would resume on Sunday."), "planned")
    assert (c.source, c.source_key) == ("Abu Ramzi", "abu-ramzi")
    c = _one(_claims(nlp, "Congolese government spokesman Kabila said talks with the M23 had stalled."), "stalled")
    assert c.source_key == "kabila"
    claims = _claims(nlp, "Hezbollah denied a report by the Lebanese newspaper Al-Akhbar that it was negotiating "
                          "with Israel through Qatar.")
    assert {(c.status, c.source) for c in claims} == {("ongoing", "Al-Akhbar"), ("denied", "Hezbollah")}, \
        _pairs(claims, "source")


@pytest.mark.slow
def test_a_surname_later_in_the_article_is_the_person_named_in_full(nlp):
    text = ("Sudanese army spokesman Nabil Abdallah said talks with the RSF had collapsed.\n"
            "Abdallah said later that the army would never negotiate with the militia.")
    claims = _claims(nlp, text)
    assert {c.source_key for c in claims} == {"nabil-abdallah"}, _pairs(claims, "source")


@pytest.mark.slow
def test_denying_that_talks_collapsed_says_they_go_on(nlp):
    claims = _claims(nlp, "The Colombian government denied that the peace talks with the ELN had collapsed.")
    assert _pairs(claims) == [("ongoing", "colombia-government")], \
        _pairs(claims, "source")


@pytest.mark.slow
def test_no_intention_no_plans_premature_and_boycotts_are_rejections(nlp):
    c = _one(_claims(nlp, "The Somali government has no intention of negotiating with al-Shabaab, its interior minister said."),
             "rejected")
    assert c.parties == ["AL_SHABAAB", "SOM"]
    c = _one(_claims(nlp, "Manila has no plans to resume peace talks with the NPA, a security adviser said."), "rejected")
    assert c.parties == ["NPA", "PHL"]
    c = _one(_claims(nlp, "Haftar's LNA described the UN ceasefire plan as unrealistic, its spokesman said."), "rejected")
    assert c.parties == ["LBY", "LNA"]
    c = _one(_claims(nlp, "The SPLM-IO boycotted the talks with South Sudan's government in Nairobi."), "rejected")
    assert c.source_key == "splm-io"


@pytest.mark.slow
def test_proposing_that_the_sides_meet_is_a_proposal(nlp):
    c = _one(_claims(nlp, "Ukraine's foreign minister said Kyiv had proposed that the two presidents meet in Istanbul to end the war."),
             "proposed")
    assert c.parties == ["RUS", "UKR"]


@pytest.mark.slow
def test_talks_under_way_are_ongoing_and_a_truce_as_a_time_is_no_claim(nlp):
    c = _one(_claims(nlp, "Negotiations between Israel and Hamas have been under way in Cairo since March 3, Egyptian "
                          "officials said.", published="2025-03-20"), "ongoing")
    assert c.parties == ["HAMAS", "ISR"]
    claims = _claims(nlp, "Hamas said Israel would have to withdraw its troops from Gaza during the truce.")
    assert "agreed" not in [c.status for c in claims], _pairs(claims, "evidence")


@pytest.mark.slow
def test_a_report_in_a_newspaper_is_that_newspapers(nlp):
    claims = _claims(nlp, "The Kremlin denied a report in the Financial Times that Russia and Ukraine were holding "
                          "secret talks in Riyadh.")
    assert {(c.status, c.source) for c in claims} == {("ongoing", "Financial Times"), ("denied", "Russia")}, \
        _pairs(claims, "source")


@pytest.mark.slow
def test_dated_participles_state_their_own_earlier_event_and_date_the_rest(nlp):
    claims = _claims(nlp, "A truce brokered by Qatar in June 2023 between Colombia and the ELN collapsed within weeks.",
                     published="2025-05-01")
    got = sorted((c.status, c.event_time) for c in claims)
    assert got == [("agreed", "2023-06"), ("collapsed", "2023")], got


@pytest.mark.slow
def test_back_to_the_table_never_resumed_invitations_and_preconditions(nlp):
    c = _one(_claims(nlp, "The TPLF said it was willing to return to the negotiating table with Addis Ababa."), "proposed")
    assert c.source_key == "tplf"
    c = _one(_claims(nlp, "Formal talks between Manila and the NPA never resumed after 2017."), "stalled")
    assert c.parties == ["NPA", "PHL"]
    c = _one(_claims(nlp, "The LNA accepted an invitation to ceasefire talks in Geneva, its spokesman said."), "accepted")
    assert c.parties == ["LBY", "LNA"]
    claims = _claims(nlp, "Kinshasa said the withdrawal of M23 fighters remained a precondition for a final peace deal.")
    assert "agreed" not in [c.status for c in claims], _pairs(claims, "evidence")


@pytest.mark.slow
def test_holds_wrap_ups_terms_and_conditions(nlp):
    c = _one(_claims(nlp, "The TPLF has put its talks with the federal government on hold, a spokesman said."), "stalled")
    assert c.parties == ["ETH", "TPLF"]
    c = _one(_claims(nlp, "Israeli and Lebanese delegations wrapped up a round of talks in Naqoura on Tuesday."), "held")
    assert c.parties == ["ISR", "LBN"]
    c = _one(_claims(nlp, "The M23 laid out its terms for a ceasefire with Kinshasa on Sunday."), "proposed")
    assert c.source_key == "m23"
    claims = _claims(nlp, "Yerevan must change its constitution before a peace treaty can be signed, Azerbaijan's president said.")
    assert [c.status for c in claims] == ["rejected"], _pairs(claims, "evidence")


@pytest.mark.slow
def test_agreeing_to_observe_a_truce_is_an_agreement(nlp):
    c = _one(_claims(nlp, "The armies of India and Pakistan agreed on Monday to strictly observe the ceasefire."), "agreed")
    assert c.parties == ["IND", "PAK"]


@pytest.mark.slow
def test_a_country_in_a_sports_story_implies_no_conflict(nlp):
    text = ("A Saudi club is in advanced talks with an Italian side over a striker, with no deal yet. "
            "The Italians rejected an opening offer.")
    assert _claims(nlp, text) == []


@pytest.mark.slow
def test_a_deal_that_ended_years_of_war_was_agreed_and_a_conference_ending_with_a_communique_is_none(nlp):
    c = _one(_claims(nlp, "The Juba agreement, signed in 2018 by South Sudan's government and the SPLM-IO, ended five "
                          "years of war.", published="2025-01-10"), "agreed")
    assert c.event_time == "2018"
    claims = _claims(nlp, "Every year, a conference on the war between Sudan's army and the RSF ends with a communique.")
    assert "collapsed" not in [c.status for c in claims], _pairs(claims, "evidence")


@pytest.mark.slow
def test_a_body_dateline_with_a_colon_is_no_speaker(nlp):
    claims = _claims(nlp, "KABUL: TTP spokesman Abdul Wali Mansoor denied that any talks with Islamabad were under way.",
                     title="TTP denies talks")
    assert {c.source for c in claims} == {"Abdul Wali Mansoor"}, _pairs(claims, "source")


@pytest.mark.slow
def test_undated_history_and_mere_attempts_are_no_claims(nlp):
    text = ("Several rounds of negotiations between Armenia and Azerbaijan have been attempted in recent years. "
            "Multiple attempts at reaching a ceasefire have proven unsuccessful.")
    assert _claims(nlp, text) == []


@pytest.mark.slow
def test_talks_outside_conflicts_yield_nothing(nlp):
    text = ("The pilots' union and the airline reached a wage deal after weeks of talks. "
            "Trade negotiations between Washington and Beijing have stalled over tariffs. "
            "The club agreed a transfer deal for the striker.")
    assert _claims(nlp, text) == []


@pytest.mark.slow
def test_an_organisation_named_union_is_no_labour_context(nlp):
    claims = _claims(nlp, "The truce between Ethiopia and the TPLF is holding, the African Union said.")
    assert _pairs(claims, "source") == [("agreed", "African Union")]


@pytest.mark.slow
def test_event_time_comes_from_the_claim_not_from_other_phrases(nlp):
    claims = _claims(nlp, "Nigeria said on Friday it had agreed a ceasefire with Boko Haram, six months after "
                          "the girls kidnapped in April were taken.", published="2014-10-20")
    c = _one(claims, "agreed")
    assert c.event_time is None


@pytest.mark.slow
def test_event_time_resolves_relative_expressions_against_publication(nlp):
    claims = _claims(nlp, "Kyiv backed out of negotiations with Moscow in the spring of 2022.", published="2024-08-18")
    assert _one(claims, "collapsed").event_time == "2022"
    claims = _claims(nlp, "Armenia and Azerbaijan will hold peace talks next month, the EU said.", published="2024-08-18")
    assert _one(claims, "planned").event_time == "2024-09"


@pytest.mark.slow
def test_an_undated_past_event_takes_the_year_of_the_sentence_before(nlp):
    text = ("In 2019 a minister led a peace commission for talks with Boko Haram. "
            "But nothing materialised from the negotiations.")
    assert _one(_claims(nlp, text, published="2021-05-02"), "no_deal").event_time == "2019"


@pytest.mark.slow
def test_hedged_claims_are_marked(nlp):
    c = _one(_claims(nlp, "Israel and Hamas are reportedly holding indirect talks in Doha."), "ongoing")
    assert c.hedged is True


@pytest.mark.slow
def test_title_and_body_saying_the_same_are_one_claim(nlp):
    claims = _claims(nlp, "The Colombian government and the ELN rebels agreed to a ceasefire on Friday.",
                     title="Colombia and ELN agree ceasefire")
    assert [c.status for c in claims] == ["agreed"]
    assert claims[0].evidence.startswith("The Colombian government")


@pytest.mark.slow
def test_a_ceasefire_deal_that_frees_hostages_is_one_ceasefire_claim(nlp):
    claims = _claims(nlp, "Israel said it had agreed a ceasefire with Hamas and reached a deal for the release "
                          "of the hostages held in Gaza.")
    assert [(c.status, c.topic) for c in claims] == [("agreed", "ceasefire")]


@pytest.mark.slow
def test_claims_carry_every_spec_field_and_the_extractor_version(nlp):
    [c] = _claims(nlp, "Russia and Ukraine held talks in Istanbul on Tuesday, the Turkish foreign ministry said.",
                  published="2022-03-31")
    d = c.to_dict()
    assert set(d) == {"parties", "status", "topic", "source", "source_key", "evidence", "source_org", "reported_by",
                      "mediator", "venue", "hedged", "event_time", "confidence"}
    assert d["venue"] == "Istanbul" and c.extra["extractor"] == EXTRACTOR_VERSION


def _parsed(words, heads, deps, lemmas, spaces=None):
    from spacy.tokens import Doc
    vocab = spacy.blank("en").vocab
    return Doc(vocab, words=words, spaces=spaces, heads=heads, deps=deps, lemmas=lemmas)


def test_a_sentence_the_parser_cut_after_a_comma_is_joined_to_its_speaker():
    from pipeline.extract.components import CommaJoiner

    # "There are no talks , Hamas said ." parsed as two sentences, the way the parser sometimes cuts
    words = ["There", "are", "no", "talks", ",", "Hamas", "said", "."]
    doc = _parsed(words, heads=[1, 1, 3, 1, 1, 6, 6, 6], deps=["expl", "ROOT", "det", "attr", "punct", "nsubj", "ROOT", "punct"],
                  lemmas=["there", "be", "no", "talk", ",", "Hamas", "say", "."])
    assert len(list(doc.sents)) == 2
    CommaJoiner({"say"})(doc)
    assert [s.text for s in doc.sents] == ["There are no talks , Hamas said ."]
    assert (doc[1].head.text, doc[1].dep_) == ("said", "ccomp")
    # no reporting verb after the comma: the second part becomes a conjunct of the first
    words = ["Talks", "ended", ",", "both", "sides", "left", "."]
    doc = _parsed(words, heads=[1, 1, 1, 4, 5, 5, 5], deps=["nsubj", "ROOT", "punct", "det", "nsubj", "ROOT", "punct"],
                  lemmas=["talk", "end", ",", "both", "side", "leave", "."])
    CommaJoiner({"say"})(doc)
    assert len(list(doc.sents)) == 1 and (doc[5].head.text, doc[5].dep_) == ("ended", "conj")
    # a sentence that does not end in a plain comma is left alone
    doc = _parsed(["Talks", "ended", ",\n", "Sides", "left"], heads=[1, 1, 1, 4, 4],
                  deps=["nsubj", "ROOT", "punct", "nsubj", "ROOT"], lemmas=["talk", "end", ",", "side", "leave"])
    CommaJoiner({"say"})(doc)
    assert len(list(doc.sents)) == 2


def test_add_components_is_idempotent():
    nlp = spacy.blank("en")
    add_components(nlp)
    add_components(nlp)
    assert nlp.pipe_names == ["talkwatch_paragraphs", "talkwatch_actors", "talkwatch_claims"]


def test_a_giant_body_is_clipped_at_a_paragraph_end_before_extraction():
    from pipeline.nightly import _clip

    body = ("Talks resumed in Doha.\n" * 5000)
    clipped = _clip(body, 1000, article_id=1)
    assert 900 < len(clipped) <= 1000 and clipped.endswith("Doha.") and body.startswith(clipped)
    assert _clip("short text", 1000, article_id=2) == "short text"


@pytest.mark.slow
def test_the_newspaper_is_the_outlet_named_before(nlp):
    text = ("The Jerusalem Post reported that Israel and Hamas had agreed a truce in Gaza. "
            "According to the newspaper, the ceasefire was to begin on Sunday.")
    sources = {c.source for c in _claims(nlp, text)}
    assert sources == {"Jerusalem Post"}


@pytest.mark.slow
def test_a_truce_that_talks_are_about_is_no_claim_of_its_own(nlp):
    claims = _claims(nlp, "Sudan's army said there were no talks with the RSF on a humanitarian truce.")
    assert _pairs(claims) == [("denied", "sudan-government")]


@pytest.mark.slow
def test_a_weak_word_counts_next_to_a_sentence_about_the_talks(nlp):
    text = ('"There is no agreement. The talks with the Saudis have stalled," Houthi spokesman '
            'Mohammed Abdulsalam said of the truce negotiations with Saudi Arabia.')
    claims = _claims(nlp, text)
    assert ("no_deal", "Mohammed Abdulsalam") in {(c.status, c.source) for c in claims}
    assert _claims(nlp, "There is no agreement on the new timetable, the school board said.") == []


@pytest.mark.slow
def test_talks_in_a_ceasefire_story_take_its_topic(nlp):
    text = ("The Colombian government and the ELN agreed a bilateral ceasefire on Friday. "
            "The deal followed three rounds of talks in Havana, negotiators said.")
    topics = {(c.status, c.topic) for c in _claims(nlp, text)}
    assert ("held", "ceasefire") in topics and ("agreed", "ceasefire") in topics


@pytest.mark.slow
def test_deals_and_talks_of_one_side_with_an_outsider_are_not_the_conflicts(nlp):
    text = ("Russia's Gazprom and China's CNPC signed a 30-year gas supply deal in Beijing on Tuesday. "
            "Nigeria signed a loan agreement with the World Bank on Thursday. "
            "Ukrainian and Polish agriculture ministers held talks in Warsaw about grain imports.")
    assert _claims(nlp, text) == []
    # a mediator or a side's representative from abroad is no outsider
    claims = _claims(nlp, "Nigerian officials said a deal was reached in talks with a Saudi Arabia-based Boko "
                          "Haram representative, mediated by Chad.", published="2014-10-20")
    assert {c.parties[0] for c in claims} == {"BOKO_HARAM"} and claims


@pytest.mark.slow
def test_open_to_talks_is_a_proposal_and_no_truce_without_a_condition_a_refusal(nlp):
    c = _one(_claims(nlp, "Russian Foreign Minister Sergei Lavrov said Moscow was open to talks with Kyiv."), "proposed")
    assert c.source == "Sergei Lavrov"
    c = _one(_claims(nlp, "Ukrainian President Volodymyr Zelensky said there could be no ceasefire until Russian "
                          "troops leave Ukrainian territory."), "rejected")
    assert c.source == "Volodymyr Zelensky"


@pytest.mark.slow
def test_a_headline_name_before_a_colon_speaks_but_a_rubric_does_not(nlp):
    claims = _claims(nlp, "Ethiopian forces kept fighting in the north on Friday.",
                     title="Abiy Ahmed: no talks with the TPLF until it disarms")
    assert _pairs(claims, "source") == [("rejected", "Abiy Ahmed")]
    claims = _claims(nlp, "Shelling continued in the east.", title="Ukraine round-up: little progress in peace talks")
    assert {c.source for c in claims} == {"Test Wire"}
