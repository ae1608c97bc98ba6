// Writes tests/mappings/fixtures/triggers.json: what Segment's trigger engine
// (@segment/destination-subscriptions parseFql, validate, generateFql) answers on
// hand-written cases and on seeded random triggers and events.
//
// Run from tools/reference:  node trigger_cases.mjs
//
// Each parse case records Segment's AST (or its error text), its match answer for
// every event, and generateFql of that AST. A case where Ferry answers differently on
// purpose carries "deviation" (why) and "ferry" (Ferry's answer: "matches", or
// "error_position" when Ferry rejects the text); docs/trigger-language.md lists them.
// Error cases carry Ferry's expected error position too. The script refuses to write
// a deviation that is not one, so the notes cannot go stale silently.

import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'

const require = createRequire(import.meta.url)
const { parseFql, validate, generateFql } = require('@segment/destination-subscriptions')
const { version } = require('@segment/destination-subscriptions/package.json')

const OUTPUT = new URL('../../tests/mappings/fixtures/triggers.json', import.meta.url)
const SEED = 20240611
const RANDOM_TRIGGERS = 220
const EVENTS_PER_RANDOM_TRIGGER = 10

// ------------------------------------------------------------------------------------
// Shared events for the hand-written cases

const EVENTS = {
  order: {
    type: 'track',
    event: 'Order Completed',
    userId: 'u1',
    properties: {
      total: 150,
      currency: 'USD',
      coupon: null,
      tags: ['sale', 'new'],
      plan: { name: 'Pro', seats: 5 },
      flag: true,
      off: false,
      zero: 0,
      empty: '',
      numeric: '150',
      emoji: '\u{1F600}',
      'first name': 'Ada',
      'caf\u00e9': 1,
      'x-y_z': 1,
      or: 1
    },
    context: { library: { name: 'analytics.js', version: '1.0' }, app: { name: 'Shop' } }
  },
  signup: {
    type: 'track',
    event: 'Signed Up',
    anonymousId: 'a1',
    properties: { total: 99.5, currency: 'EUR', plan: 'pro', title: 'Caf\u00e9 \u2615' }
  },
  identify: {
    type: 'identify',
    userId: 'u2',
    traits: { email: 'ada@example.com', plan: 'pro', age: 36, vip: false, name: 'Ada' },
    context: { traits: { email: 'ctx@example.com' } }
  },
  page: { type: 'page', name: 'Home', userId: null, properties: { path: '/', title: 'Welcome' } },
  odd: {
    type: 'track',
    event: 'Order Completed',
    userId: 5,
    properties: { total: '150', currency: ['USD'], flag: 'true', plan: null, tags: 'sale' }
  },
  empty: {}
}
const EVENT_NAMES = Object.keys(EVENTS)

// [id, fql] pairs: Ferry gives Segment's answer on every one of these.
const AGREED = [
  // Event type, name, page name and user id
  ['type_equals', 'type = "track"'],
  ['type_not_equals', 'type != "track"'],
  ['type_equals_number_compares_text', 'type = 5'],
  ['event_equals', 'event = "Order Completed"'],
  ['event_not_equals', 'event != "Order Completed"'],
  ['event_equals_empty_text', 'event = ""'],
  ['event_equals_text_null', 'event = "null"'],
  ['event_with_single_quote_inside', 'event = "Ada\'s order"'],
  ['name_equals', 'name = "Home"'],
  ['name_not_equals', 'name != "Home"'],
  ['name_null', 'name = null'],
  ['name_not_null', 'name != null'],
  ['user_equals', 'userId = "u1"'],
  ['user_not_equals', 'userId != "u1"'],
  ['user_null', 'userId = null'],
  ['user_not_null', 'userId != null'],
  ['user_true', 'userId = true'],
  ['user_false', 'userId = false'],
  ['user_number_compares_text', 'userId = 5'],
  ['user_not_true_compares_text', 'userId != true'],
  // Property comparisons
  ['property_greater', 'properties.total > 100'],
  ['property_greater_or_equal', 'properties.total >= 150'],
  ['property_less', 'properties.total < 100'],
  ['property_less_or_equal', 'properties.total <= 99.5'],
  ['property_number_equals', 'properties.total = 150'],
  ['property_number_not_equals', 'properties.total != 150'],
  ['property_number_equals_decimal_zero', 'properties.total = 150.0'],
  ['property_number_plus_sign', 'properties.total = +150'],
  ['property_negative_number', 'properties.total > -5'],
  ['property_negative_fraction', 'properties.total > -.5'],
  ['property_equals_numeric_text', 'properties.total = "150"'],
  ['property_not_equals_numeric_text', 'properties.total != "150"'],
  ['property_greater_numeric_text', 'properties.total > "100"'],
  ['property_greater_non_numeric_text', 'properties.total > "abc"'],
  ['property_greater_empty_text_is_zero', 'properties.total > ""'],
  ['property_greater_padded_text', 'properties.total > " 120 "'],
  ['property_greater_hex_text', 'properties.total > "0x10"'],
  ['property_less_exponent_text', 'properties.total < "1e3"'],
  ['property_less_infinity_text', 'properties.total < "Infinity"'],
  ['property_equals_text', 'properties.currency = "USD"'],
  ['property_not_equals_text', 'properties.currency != "USD"'],
  ['property_null', 'properties.coupon = null'],
  ['property_not_null', 'properties.coupon != null'],
  ['property_true', 'properties.flag = true'],
  ['property_false', 'properties.off = false'],
  ['property_not_true_compares_text', 'properties.flag != true'],
  ['property_not_false_compares_text', 'properties.off != false'],
  ['property_equals_text_true', 'properties.flag = "true"'],
  ['missing_property_not_equals_text', 'properties.missing != "x"'],
  ['missing_property_not_equals_number', 'properties.missing != 5'],
  ['numeric_text_never_compares', 'properties.numeric > 100'],
  ['numeric_text_never_number_equals', 'properties.numeric = 150'],
  ['nested_property', 'properties.plan.name = "Pro"'],
  ['nested_property_number', 'properties.plan.seats >= 5'],
  ['array_length', 'properties.tags.length = 2'],
  ['text_length', 'properties.currency.length = 3'],
  ['text_length_counts_utf16_units', 'properties.emoji.length = 2'],
  ['zero_parent_short_circuits', 'properties.zero.anything = 0'],
  ['empty_text_parent_short_circuits', 'properties.empty.anything = ""'],
  ['false_parent_short_circuits', 'properties.off.anything = false'],
  ['null_parent_short_circuits', 'properties.coupon.anything = null'],
  ['number_parent_has_no_children', 'properties.total.anything != null'],
  ['escaped_brackets_index_arrays', 'properties.tags\\[0\\] = "sale"'],
  ['escaped_space', 'properties.first\\ name = "Ada"'],
  ['escaped_unicode', 'properties.caf\\\u00e9 = 1'],
  ['dash_and_underscore', 'properties.x-y_z = 1'],
  ['trait_equals', 'traits.email = "ada@example.com"'],
  ['trait_greater_or_equal', 'traits.age >= 18'],
  ['trait_false', 'traits.vip = false'],
  ['trait_not_null', 'traits.plan != null'],
  ['context_equals', 'context.library.name = "analytics.js"'],
  ['context_traits', 'context.traits.email = "ctx@example.com"'],
  ['context_not_null', 'context.app.name != null'],
  // contains() and match()
  ['contains_event', 'contains(event, "Order")'],
  ['not_contains_event', '!contains(event, "Order")'],
  ['contains_empty_text', 'contains(event, "")'],
  ['contains_property', 'contains(properties.currency, "US")'],
  ['not_contains_needs_text', '!contains(properties.missing, "x")'],
  ['contains_trait', 'contains(traits.email, "@example.com")'],
  ['contains_context', 'contains(context.library.name, "js")'],
  ['contains_name', 'contains(name, "om")'],
  ['contains_user', 'contains(userId, "u")'],
  ['not_contains_user', '!contains(userId, "u")'],
  ['contains_unicode', 'contains(properties.title, "\u00e9")'],
  ['contains_space_before_parenthesis', 'contains (event, "Order")'],
  ['not_contains_space_before_parenthesis', '!contains (event, "Order")'],
  ['match_prefix', 'match(event, "Order*")'],
  ['match_suffix', 'match(event, "*Completed")'],
  ['not_match_prefix', '!match(event, "Order*")'],
  ['not_match_suffix', '!match(event, "*Completed")'],
  ['match_any_text', 'match(event, "*")'],
  ['match_property_prefix', 'match(properties.currency, "U*")'],
  ['match_trait_suffix', 'match(traits.email, "*@example.com")'],
  ['match_context_version', 'match(context.library.version, "1.*")'],
  ['not_match_needs_text', '!match(properties.total, "1*")'],
  ['match_user', 'match(userId, "u*")'],
  ['match_name', 'match(name, "Ho*")'],
  // and, or, parentheses
  ['and', 'type = "track" and event = "Order Completed"'],
  ['or', 'type = "identify" or type = "page"'],
  [
    'all_event_types',
    'type = "track" or type = "identify" or type = "page" or type = "screen" or type = "group" or type = "alias"'
  ],
  ['three_conditions', 'type = "track" and event = "Order Completed" and properties.total > 100'],
  ['group_inside_and', 'type = "track" and (event = "Order Completed" or event = "Signed Up")'],
  ['group_first', '(type = "identify" or type = "page") and userId != null'],
  [
    'two_groups',
    '(type = "track" and properties.total > 100) or (type = "identify" and traits.age > 30)'
  ],
  ['parenthesised_single_condition', '(type = "track")'],
  ['upper_case_and', 'type = "track" AND event = "Order Completed"'],
  ['mixed_case_and', 'type = "track" And event = "Order Completed"'],
  ['and_touching_parenthesis', 'type = "track" and(event = "Signed Up")'],
  ['tabs_and_newlines', 'type = "track"\n\tand\n event = "Order Completed"'],
  ['no_space_before_value', 'type ="track"']
]

// Text both engines refuse; Ferry's error points at `position`.
const BOTH_REJECT = [
  ['error_empty', '', 0],
  ['error_blank', '   ', 3],
  ['error_unknown_field', 'foo = "bar"', 0],
  ['error_anonymous_id', 'anonymousId = "a1"', 0],
  ['error_field_case', 'userid = "u1"', 0],
  ['error_upper_case_field', 'TYPE = "track"', 0],
  ['error_unterminated_text', 'type = "track', 7],
  ['error_ampersands', 'type = "track" && event = "x"', 15],
  ['error_pipes', 'type = "track" || event = "x"', 15],
  ['error_star', '*', 0],
  ['error_bracket_path', 'properties.a[0] = 1', 12],
  ['error_operator_first', '!= "x"', 0],
  ['error_value_first', '"track" = type', 0],
  ['error_number_first', '5 = type', 0],
  ['error_field_alone', 'userId', 6],
  ['error_number_trailing_dot', 'properties.x = 1.', 16],
  ['error_number_two_dots', 'properties.x = 1.2.3', 18],
  ['error_backslash_at_end', 'properties.\\', 11],
  ['error_unknown_function', 'length(event) > 3', 0],
  ['error_unclosed_parenthesis', '(type = "track"', 0],
  ['error_empty_parentheses', '()', 1],
  ['error_nested_too_deep', '('.repeat(40) + 'type = "track"' + ')'.repeat(40), 32],
  ['error_dollar', '$type = "x"', 0],
  ['error_unicode_field', 'properties.caf\u00e9 = 1', 14],
  ['error_keyword_alone', 'and', 0],
  ['error_contains_without_arguments', 'contains()', 9]
]

const ALL = [true, true, true, true, true, true]
const NONE = [false, false, false, false, false, false]

// Text where Ferry answers differently from Segment on purpose.
const DEVIATIONS = [
  {
    id: 'precedence_and_before_or',
    fql: 'type = "identify" or type = "track" and event = "Order Completed"',
    deviation: 'and binds tighter than or; Segment joins all three with the last connective, and',
    ferry: { matches: [true, false, true, false, true, false] }
  },
  {
    id: 'precedence_or_after_and',
    fql: 'type = "track" and event = "Signed Up" or type = "page"',
    deviation: 'and binds tighter than or; Segment joins all three with the last connective, or',
    ferry: { matches: [false, true, false, true, false, false] }
  },
  {
    id: 'upper_case_or',
    fql: 'event = "Order Completed" OR event = "Signed Up"',
    deviation: 'OR in capitals means or; Segment ignores the word and joins with and',
    ferry: { matches: [true, true, false, false, true, false] }
  },
  {
    id: 'nested_parentheses',
    fql: 'type = "track" and (event = "Signed Up" or (event = "Order Completed" and properties.total > 100))',
    deviation: 'parentheses nest; Segment fails on a group inside a group',
    ferry: { matches: [true, true, false, false, false, false] }
  },
  {
    id: 'function_inside_parentheses',
    fql: '(contains(event, "Order") or type = "identify") and userId != null',
    deviation: "a function's closing parenthesis does not end the group; Segment ends the group there and joins the rest with the last connective",
    ferry: { matches: [true, false, true, false, true, false] }
  },
  {
    id: 'negated_group',
    fql: '!(type = "track")',
    deviation: '! negates the group; Segment drops the !',
    ferry: { matches: [false, false, true, true, false, true] }
  },
  {
    id: 'negated_comparison',
    fql: '!type = "track"',
    deviation: '! negates the comparison after it; Segment drops the !',
    ferry: { matches: [false, false, true, true, false, true] }
  },
  {
    id: 'double_negation',
    fql: '!!type = "track"',
    deviation: '! may repeat; Segment rejects !!',
    ferry: { matches: [true, true, false, false, true, false] }
  },
  {
    id: 'negated_group_around_contains',
    fql: '!(contains(event, "Order"))',
    deviation: '!( ) is plain negation, true when the field is missing; Segment drops the !',
    ferry: { matches: [false, true, true, true, false, true] }
  },
  {
    id: 'space_after_negation',
    fql: '! contains(event, "Order")',
    deviation: 'a space may follow !; Segment rejects it',
    ferry: { matches: [false, true, false, false, false, false] }
  },
  {
    id: 'match_star_in_middle',
    fql: 'match(event, "O*C*")',
    deviation: 'match() is a glob, * anywhere; Segment reads this as ends with "*C*"',
    ferry: { matches: [true, false, false, false, true, false] }
  },
  {
    id: 'match_without_star',
    fql: 'match(event, "Xigned Up")',
    deviation: 'match() without * is whole-text equality; Segment reads ends with the pattern minus its first character',
    ferry: { matches: NONE }
  },
  {
    id: 'match_star_on_both_sides',
    fql: 'match(event, "*Comp*")',
    deviation: 'match() is a glob; Segment reads starts with "*Comp"',
    ferry: { matches: [true, false, false, false, true, false] }
  },
  {
    id: 'starts_with_value_holding_star',
    fql: 'match(event, "Order C*d*")',
    deviation: 'the builder writes "starts with Order C*d" like this; in a glob the inner * is a wildcard, Segment keeps it literal',
    ferry: { matches: [true, false, false, false, true, false] }
  },
  {
    id: 'match_single_quoted_pattern',
    fql: "match(event, 'Order*')",
    deviation: 'single quotes delimit text; Segment keeps them in the pattern',
    ferry: { matches: [true, false, false, false, true, false] }
  },
  {
    id: 'single_quoted_text',
    fql: "event = 'Order Completed'",
    deviation: 'single quotes delimit text, as in the FQL docs; Segment keeps them in the value',
    ferry: { matches: [true, false, false, false, true, false] }
  },
  {
    id: 'event_null',
    fql: 'event = null',
    deviation: '= null means missing or null on every field; Segment compares event with the text "null"',
    ferry: {
      matches: [false, false, true, true, false, true],
      builder: { type: 'group', operator: 'and', children: [{ type: 'event', operator: 'not_exists' }] }
    }
  },
  {
    id: 'type_not_null',
    fql: 'type != null',
    deviation: '!= null means present on every field; Segment compares type with the text "null"',
    ferry: { matches: [true, true, true, true, true, false] }
  },
  {
    id: 'contains_type',
    fql: 'contains(type, "ack")',
    deviation: 'functions accept type; Segment produces no condition and fails',
    ferry: { matches: [true, true, false, false, true, false] }
  },
  {
    id: 'contains_type_beside_other',
    fql: 'contains(type, "ide") or userId = "u1"',
    deviation: 'functions accept type; Segment silently drops that condition',
    ferry: { matches: [true, false, true, false, false, false] }
  },
  {
    id: 'numeric_path_segment',
    fql: 'properties.tags.0 = "sale"',
    deviation: 'a path segment may be a number (array index); Segment mis-reads the path and never matches',
    ferry: { matches: [true, false, false, false, false, false] }
  },
  {
    id: 'keyword_path_segment',
    fql: 'properties.or = 1',
    deviation: 'a path segment may be spelled like a keyword; Segment mis-reads the path and never matches',
    ferry: { matches: [true, false, false, false, false, false] }
  },
  {
    id: 'operator_without_spaces',
    fql: 'properties.total>100',
    deviation: 'spaces around operators are optional; Segment rejects a field glued to >',
    ferry: { matches: [true, false, false, false, false, false] }
  },
  {
    id: 'carriage_return',
    fql: 'type = "track"\r\nand event = "Signed Up"',
    deviation: 'carriage returns are whitespace (Windows line ends); Segment rejects them',
    ferry: { matches: [false, true, false, false, false, false] }
  },
  {
    id: 'keyword_glued_to_text',
    fql: 'event = "Signed Up"and type = "identify"',
    deviation: 'text ends at its closing quote; Segment swallows everything after a quote that is not followed by a space',
    ferry: { matches: NONE }
  },
  {
    id: 'unknown_member_constructor',
    fql: 'properties.constructor != null',
    deviation: "JavaScript's built-in members (constructor, toString, ...) are not event data; Segment finds them on every object",
    ferry: { matches: NONE }
  },
  {
    id: 'contains_number_argument',
    fql: 'contains(properties.total, 15)',
    deviation: 'strict: contains() takes text in quotes; Segment converts the number to text',
    ferry: { error_position: 27 }
  },
  {
    id: 'bare_word_value',
    fql: 'event = Signed',
    deviation: 'strict: text goes in quotes; Segment takes the bare word as text',
    ferry: { error_position: 8 }
  },
  {
    id: 'double_equals',
    fql: 'type == "track"',
    deviation: 'strict: == is a typo for =; Segment compares type with the text "="',
    ferry: { error_position: 6 }
  },
  {
    id: 'less_greater',
    fql: 'properties.total <> 100',
    deviation: 'strict: <> is not an operator; Segment compares with the text ">" and never matches',
    ferry: { error_position: 18 }
  },
  {
    id: 'missing_value',
    fql: 'type =',
    deviation: 'strict: a comparison needs a value; Segment compares with the text "eos"',
    ferry: { error_position: 6 }
  },
  {
    id: 'trailing_and',
    fql: 'type = "track" and',
    deviation: 'strict: and needs a condition after it; Segment ignores the dangling and',
    ferry: { error_position: 18 }
  },
  {
    id: 'leading_and',
    fql: 'and type = "track"',
    deviation: 'strict: and needs a condition before it; Segment ignores it',
    ferry: { error_position: 0 }
  },
  {
    id: 'trailing_word',
    fql: 'type = "track" extra',
    deviation: 'strict: unknown words are errors; Segment ignores them',
    ferry: { error_position: 15 }
  },
  {
    id: 'comma_between_conditions',
    fql: 'type = "track", event = "Signed Up"',
    deviation: 'strict: conditions are joined with and/or; Segment ignores the comma',
    ferry: { error_position: 14 }
  },
  {
    id: 'not_keyword',
    fql: 'not type = "track"',
    deviation: 'strict: negation is written !; Segment ignores the word not',
    ferry: { error_position: 0 }
  },
  {
    id: 'match_one_argument',
    fql: 'match(event)',
    deviation: 'strict: match() takes two arguments; Segment invents the pattern "eos"',
    ferry: { error_position: 11 }
  },
  {
    id: 'unclosed_function_call',
    fql: 'match(event, "Order*"',
    deviation: 'strict: a function call needs its closing parenthesis; Segment does not check',
    ferry: { error_position: 21 }
  },
  {
    id: 'unopened_parenthesis',
    fql: 'type = "track")',
    deviation: 'strict: a ) needs a matching (; Segment ignores it',
    ferry: { error_position: 14 }
  },
  {
    id: 'ordering_with_null',
    fql: 'properties.total < null',
    deviation: 'strict: < compares numbers; Segment accepts null and never matches',
    ferry: { error_position: 19 }
  },
  {
    id: 'ordering_with_boolean',
    fql: 'properties.total > true',
    deviation: 'strict: > compares numbers; Segment compares with 1',
    ferry: { error_position: 19 }
  },
  {
    id: 'sub_field_of_type',
    fql: 'type.name = "track"',
    deviation: 'strict: type has no sub-fields; Segment ignores the path and compares type',
    ferry: { error_position: 4 }
  },
  {
    id: 'properties_without_path',
    fql: 'properties = null',
    deviation: 'strict: properties needs a path; Segment reads properties.properties',
    ferry: { error_position: 10 }
  },
  {
    id: 'exponent_number',
    fql: 'properties.total > 1.5e2',
    deviation: 'strict: numbers have no exponent (neither engine reads one); Segment reads 1.5 and ignores e2',
    ferry: { error_position: 22 }
  },
  {
    id: 'number_too_large',
    fql: 'properties.total < 1' + '0'.repeat(400),
    deviation: 'strict: a number beyond the largest double is refused; Segment compares with Infinity',
    ferry: { error_position: 19 }
  },
  {
    id: 'text_too_long',
    fql: 'event = "' + 'x'.repeat(10000) + '"',
    deviation: 'a trigger holds at most 10,000 characters; Segment has no limit',
    ferry: { error_position: 10000 }
  }
]

// Builder forms (Segment's flat AST) for generateFql.
const group = (operator, ...children) => ({ type: 'group', operator, children })
const GENERATE = [
  ['type_equals', group('and', { type: 'event-type', operator: '=', value: 'track' })],
  ['type_not_equals', group('and', { type: 'event-type', operator: '!=', value: 'identify' })],
  ['event_contains', group('and', { type: 'event', operator: 'contains', value: 'Order' })],
  ['event_not_contains', group('and', { type: 'event', operator: 'not_contains', value: 'Order' })],
  ['event_starts_with', group('and', { type: 'event', operator: 'starts_with', value: 'Order' })],
  ['event_not_starts_with', group('and', { type: 'event', operator: 'not_starts_with', value: 'Order' })],
  ['event_ends_with', group('and', { type: 'event', operator: 'ends_with', value: 'Completed' })],
  ['event_not_ends_with', group('and', { type: 'event', operator: 'not_ends_with', value: 'Up' })],
  ['starts_with_nothing', group('and', { type: 'event', operator: 'starts_with', value: '' })],
  ['name_exists', group('and', { type: 'name', operator: 'exists' })],
  ['name_not_exists', group('and', { type: 'name', operator: 'not_exists' })],
  ['user_is_true', group('and', { type: 'userId', operator: 'is_true' })],
  ['user_is_false', group('and', { type: 'userId', operator: 'is_false' })],
  ['property_number_equals', group('and', { type: 'event-property', name: 'total', operator: 'number_equals', value: 150 })],
  ['property_number_not_equals', group('and', { type: 'event-property', name: 'total', operator: 'number_not_equals', value: 150 })],
  ['property_greater_text_value', group('and', { type: 'event-property', name: 'total', operator: '>', value: '100' })],
  ['property_less_or_equal', group('and', { type: 'event-property', name: 'total', operator: '<=', value: 10.5 })],
  ['property_less_negative', group('and', { type: 'event-property', name: 'total', operator: '<', value: -2.5 })],
  ['property_greater_or_equal', group('and', { type: 'event-property', name: 'total', operator: '>=', value: 0 })],
  ['property_equals_text', group('and', { type: 'event-property', name: 'plan', operator: '=', value: 'pro' })],
  ['property_equals_number', group('and', { type: 'event-property', name: 'total', operator: '=', value: 5 })],
  ['property_not_equals_boolean', group('and', { type: 'event-property', name: 'flag', operator: '!=', value: true })],
  ['property_escaped_path', group('and', { type: 'event-property', name: 'first name.x[0]', operator: 'exists' })],
  ['trait_unicode_path', group('and', { type: 'event-trait', name: 'caf\u00e9', operator: 'is_true' })],
  ['context_starts_with', group('and', { type: 'event-context', name: 'library.version', operator: 'starts_with', value: '1.' })],
  ['text_with_single_quote', group('and', { type: 'event', operator: '=', value: "Ada's" })],
  [
    'any_of_two',
    group('or', { type: 'event-type', operator: '=', value: 'identify' }, { type: 'event-trait', name: 'email', operator: 'exists' })
  ],
  [
    'all_of_three',
    group(
      'and',
      { type: 'event-type', operator: '=', value: 'track' },
      { type: 'event', operator: '=', value: 'Order Completed' },
      { type: 'event-property', name: 'total', operator: '>', value: 100 }
    )
  ]
]

const GENERATE_DEVIATIONS = [
  {
    id: 'text_with_double_quote',
    ast: group('and', { type: 'event', operator: '=', value: 'say "hi"' }),
    deviation: 'text holding a double quote goes in single quotes; Segment writes FQL that does not read back',
    ferry: { fql: "event = 'say \"hi\"'" }
  },
  {
    id: 'huge_number',
    ast: group('and', { type: 'event-property', name: 'total', operator: 'number_equals', value: 1e21 }),
    deviation: 'numbers are written without exponent; Segment writes 1e+21, which does not read back',
    ferry: { fql: 'properties.total = 1000000000000000000000' }
  },
  {
    id: 'tiny_number',
    ast: group('and', { type: 'event-property', name: 'total', operator: '>', value: 1e-7 }),
    deviation: 'numbers are written without exponent; Segment writes 1e-7, which does not read back',
    ferry: { fql: 'properties.total > 0.0000001' }
  },
  {
    id: 'ordering_with_non_numeric_text',
    ast: group('and', { type: 'event-property', name: 'total', operator: '<', value: 'abc' }),
    deviation: 'the builder refuses a comparison with text that is not a number; Segment writes < NaN',
    ferry: { invalid: true }
  }
]

// ------------------------------------------------------------------------------------
// Running the reference

const errorText = (error) => (error instanceof Error ? error.message : String(error))

function reference (fql, events) {
  const ast = parseFql(fql)
  if (ast.error) {
    return { error: errorText(ast.error) }
  }
  let generated = null
  try {
    generated = generateFql(ast)
  } catch (error) {
    generated = null
  }
  return { ast, matches: events.map((event) => validate(ast, event)), generated }
}

function parseCase (id, fql, events, extra = {}) {
  const ref = reference(fql, events)
  const result = { id, fql, events, reference: ref, ...extra }
  if (extra.deviation) {
    const ferry = extra.ferry
    if (ferry.error_position === undefined && !ref.error) {
      const same = ferry.matches.every((match, index) => match === ref.matches[index])
      if (same) throw new Error(`deviation ${id}: Ferry's answers equal Segment's`)
    }
    if (ferry.error_position !== undefined && ref.error) {
      throw new Error(`deviation ${id}: both engines reject it`)
    }
  } else if (ref.error && extra.ferry?.error_position === undefined) {
    throw new Error(`case ${id}: Segment rejects it; give Ferry's error position`)
  } else if (!ref.error && extra.ferry) {
    throw new Error(`case ${id}: Segment accepts it; an error position needs a deviation note`)
  }
  return result
}

function generateCase (id, ast, extra = {}) {
  let fql = null
  let error = null
  try {
    fql = generateFql(ast)
  } catch (e) {
    error = errorText(e)
  }
  const reparsed = fql === null ? null : parseFql(fql)
  return {
    id,
    ast,
    reference: { fql, error, reparsed: reparsed?.error ? { error: errorText(reparsed.error) } : reparsed },
    ...extra
  }
}

// ------------------------------------------------------------------------------------
// Seeded random triggers and events

function mulberry32 (seed) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = mulberry32(SEED)
const chance = (p) => random() < p
const pick = (items) => items[Math.floor(random() * items.length)]

const TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias']
const TEXTS = ['Order Completed', 'Signed Up', 'Home', 'pro', 'Pro', '', 'a b', 'caf\u00e9', '5', '150', '10.5', 'true', 'null', 'u1', 'Order', "it's"]
const NUMBERS = [0, 1, -1, 5, 10.5, 100, 150, -2.5, 1000000, 0.25]
const PATHS = ['total', 'plan', 'plan.name', 'plan.seats', 'items.length', 'title.length', 'a.b.c', 'first name', 'caf\u00e9', 'x-y', '_private', 'flag', 'count']
const PATH_KINDS = { 'event-property': 'properties', 'event-trait': 'traits', 'event-context': 'context' }
const TEXT_OPERATORS = ['contains', 'not_contains', 'starts_with', 'not_starts_with', 'ends_with', 'not_ends_with']
const OPERATORS = {
  'event-type': ['=', '!='],
  event: ['=', '!=', ...TEXT_OPERATORS],
  name: ['=', '!=', 'exists', 'not_exists', ...TEXT_OPERATORS],
  userId: ['=', '!=', 'exists', 'not_exists', 'is_true', 'is_false', ...TEXT_OPERATORS],
  'event-property': [
    '=', '!=', '<', '<=', '>', '>=', 'number_equals', 'number_not_equals',
    'exists', 'not_exists', 'is_true', 'is_false', ...TEXT_OPERATORS
  ]
}
OPERATORS['event-trait'] = OPERATORS['event-property']
OPERATORS['event-context'] = OPERATORS['event-property']

function randomCondition (allowFunctions) {
  const kind = pick(['event-type', 'event', 'event', 'name', 'userId', 'event-property', 'event-property', 'event-property', 'event-trait', 'event-context'])
  let operator = pick(OPERATORS[kind])
  while (!allowFunctions && TEXT_OPERATORS.includes(operator)) operator = pick(OPERATORS[kind])
  const condition = { type: kind }
  if (PATH_KINDS[kind]) condition.name = pick(PATHS)
  condition.operator = operator
  if (['exists', 'not_exists', 'is_true', 'is_false'].includes(operator)) return condition
  if (['<', '<=', '>', '>=', 'number_equals', 'number_not_equals'].includes(operator)) {
    condition.value = pick(NUMBERS)
  } else if (kind === 'event-type') {
    condition.value = pick(TYPES)
  } else if (PATH_KINDS[kind] && ['=', '!='].includes(operator) && chance(0.2)) {
    condition.value = operator === '!=' ? pick([true, false]) : pick(TEXTS)
  } else {
    condition.value = pick(TEXTS)
  }
  return condition
}

function randomAst () {
  const operator = pick(['and', 'or'])
  const children = []
  const count = 1 + Math.floor(random() * 4)
  for (let i = 0; i < count; i++) {
    if (count > 1 && chance(0.2)) {
      // Segment's parser reads one level of parentheses right when no function is inside.
      const inner = [randomCondition(false), randomCondition(false)]
      if (chance(0.3)) inner.push(randomCondition(false))
      children.push({ type: 'group', operator: operator === 'and' ? 'or' : 'and', children: inner })
    } else {
      children.push(randomCondition(true))
    }
  }
  return { type: 'group', operator, children }
}

const canonical = (value) => JSON.stringify(value, (key, inner) =>
  inner && typeof inner === 'object' && !Array.isArray(inner)
    ? Object.fromEntries(Object.keys(inner).sort().map((k) => [k, inner[k]]))
    : inner
)

function conditionsOf (ast) {
  return ast.children.flatMap((child) => (child.type === 'group' ? conditionsOf(child) : [child]))
}

function setPath (target, segments, value) {
  let node = target
  segments.slice(0, -1).forEach((segment) => {
    if (node[segment] === null || typeof node[segment] !== 'object' || Array.isArray(node[segment])) {
      node[segment] = {}
    }
    node = node[segment]
  })
  node[segments[segments.length - 1]] = value
}

function valueNear (condition) {
  const value = condition.value
  const candidates = [null, true, false, 0, '', pick(TEXTS), pick(NUMBERS), { nested: 1 }, ['x']]
  if (typeof value === 'string') {
    candidates.push(value, value, `${value}x`, `x${value}`, `x${value}x`, value.toUpperCase())
    if (value !== '' && !Number.isNaN(Number(value))) candidates.push(Number(value))
  } else if (typeof value === 'number') {
    candidates.push(value, value, value + 1, value - 1, String(value))
  } else if (typeof value === 'boolean') {
    candidates.push(value, !value, String(value))
  }
  return pick(candidates)
}

function randomEvent (ast) {
  const event = {}
  if (chance(0.9)) event.type = chance(0.8) ? pick(TYPES) : pick(['Track', 5, null, ''])
  for (const condition of conditionsOf(ast)) {
    if (chance(0.2)) continue
    const root = PATH_KINDS[condition.type]
    const value = valueNear(condition)
    if (!root) {
      event[condition.type === 'event-type' ? 'type' : condition.type] = value
      continue
    }
    if (!event[root] || typeof event[root] !== 'object') event[root] = chance(0.05) ? pick([null, 0, []]) : {}
    if (event[root] === null || typeof event[root] !== 'object' || Array.isArray(event[root])) continue
    const segments = condition.name.split('.')
    const last = segments[segments.length - 1]
    if (last === 'length' && chance(0.7)) {
      const size = Math.floor(random() * 4)
      setPath(event[root], segments.slice(0, -1), chance(0.5) ? 'abcd'.slice(0, size) : Array(size).fill(1))
    } else if (segments.length > 1 && chance(0.15)) {
      setPath(event[root], segments.slice(0, 1), pick([0, '', false, null, 7, 'text']))
    } else {
      setPath(event[root], segments, value)
    }
  }
  return event
}

function randomCases () {
  const cases = []
  let attempts = 0
  while (cases.length < RANDOM_TRIGGERS) {
    attempts += 1
    if (attempts > RANDOM_TRIGGERS * 20) throw new Error('too few random triggers survive the round trip')
    const ast = randomAst()
    const fql = generateFql(ast)
    // Keep only the forms Segment's own parser reads back correctly.
    if (canonical(parseFql(fql)) !== canonical(ast)) continue
    const events = Array.from({ length: EVENTS_PER_RANDOM_TRIGGER }, () => randomEvent(ast))
    cases.push(parseCase(`random_${cases.length}`, fql, events))
  }
  return cases
}

// ------------------------------------------------------------------------------------

const handEvents = EVENT_NAMES.map((name) => EVENTS[name])
const parseCases = [
  ...AGREED.map(([id, fql]) => parseCase(id, fql, handEvents)),
  ...BOTH_REJECT.map(([id, fql, position]) => parseCase(id, fql, [], { ferry: { error_position: position } })),
  ...DEVIATIONS.map(({ id, fql, ...extra }) => parseCase(id, fql, handEvents, extra)),
  ...randomCases()
]
const generateCases = [
  ...GENERATE.map(([id, ast]) => generateCase(id, ast)),
  ...GENERATE_DEVIATIONS.map(({ id, ast, ...extra }) => generateCase(id, ast, extra))
]

const about =
  'Generated by tools/reference/trigger_cases.mjs from @segment/destination-subscriptions ' +
  `${version} (seed ${SEED}). Do not edit; change the script and run it again.`
// One case per line keeps the file small and its diffs readable.
const lines = (cases) => cases.map((item) => `  ${JSON.stringify(item)}`).join(',\n')
writeFileSync(
  OUTPUT,
  `{\n "about": ${JSON.stringify(about)},\n "parse": [\n${lines(parseCases)}\n ],\n` +
    ` "generate": [\n${lines(generateCases)}\n ]\n}\n`
)
console.log(`wrote ${parseCases.length} parse cases and ${generateCases.length} generate cases to ${OUTPUT.pathname}`)
