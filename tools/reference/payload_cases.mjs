// Regenerates tests/mappings/fixtures/payload_cases.json: what Segment's own runtime does with a
// mapped payload for our three Intercom actions, and what Ferry must do with it.
//
// Run from tools/reference: `node payload_cases.mjs`. Node is needed only to regenerate.
//
// For every payload it runs the steps Segment's Action.execute runs after the mapping kit:
// fieldsToJsonSchema (once per action), removeEmptyValues at the root, then validateSchema
// (ajv with coerceTypes "array"). It records the reference's answer and Ferry's expected answer:
// the same coerced payload with datetime fields as unix seconds, or a rejection blaming the same
// fields. A hand-written case may depart from the reference only with a "deviation" reason; the
// script refuses to write a deviation that no longer differs, or a case whose datetimes it cannot
// account for.

import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const core = require('@segment/actions-core')
// Not in the package's export map, so it is loaded by file path.
const { removeEmptyValues } = require('./node_modules/@segment/actions-core/dist/cjs/remove-empty-values.js')

const OUTPUT = new URL('../../tests/mappings/fixtures/payload_cases.json', import.meta.url)
const SEED = 20240603
const RANDOM_CASES_PER_ACTION = 60

// Our catalog (intercom-actions.md) written as Segment field definitions. The conditional rules
// become Segment's conditional `required`: the first alternative is required when the others are
// absent (and, for Identify Contact, when the role is "user").
const FIELDS = {
  identify_contact: {
    role: { label: 'Role', type: 'string', required: true, choices: ['user', 'lead'] },
    external_id: {
      label: 'External ID',
      type: 'string',
      required: {
        match: 'all',
        conditions: [
          { fieldKey: 'role', operator: 'is', value: 'user' },
          { fieldKey: 'email', operator: 'is', value: undefined }
        ]
      }
    },
    email: { label: 'Email Address', type: 'string', format: 'email' },
    phone: { label: 'Phone Number', type: 'string' },
    name: { label: 'Name', type: 'string' },
    avatar: { label: 'Avatar', type: 'string', format: 'uri' },
    signed_up_at: { label: 'Signed Up Timestamp', type: 'datetime' },
    last_seen_at: { label: 'Last Seen Timestamp', type: 'datetime' },
    owner_id: { label: 'Owner ID', type: 'number' },
    unsubscribed_from_emails: { label: 'Unsubscribed From Emails', type: 'boolean' },
    custom_attributes: { label: 'Custom Attributes', type: 'object' }
  },
  identify_company: {
    company_id: { label: 'Company ID', type: 'string', required: true },
    name: { label: 'Company Name', type: 'string' },
    remote_created_at: { label: 'Company Creation Time', type: 'datetime' },
    monthly_spend: { label: 'Monthly Spend', type: 'number' },
    plan: { label: 'Company Plan', type: 'string' },
    size: { label: 'Company Size', type: 'number' },
    website: { label: 'Company Website', type: 'string' },
    industry: { label: 'Industry', type: 'string' },
    custom_attributes: { label: 'Custom Attributes', type: 'object' },
    contact_id: { label: 'Contact ID', type: 'string' },
    external_id: { label: 'External ID', type: 'string' },
    email: { label: 'Email Address', type: 'string', format: 'email' }
  },
  track_event: {
    event_name: { label: 'Event Name', type: 'string', required: true },
    created_at: { label: 'Event Timestamp', type: 'datetime', required: true },
    user_id: {
      label: 'User ID',
      type: 'string',
      required: {
        match: 'all',
        conditions: [
          { fieldKey: 'email', operator: 'is', value: undefined },
          { fieldKey: 'id', operator: 'is', value: undefined }
        ]
      }
    },
    email: { label: 'Email Address', type: 'string', format: 'email' },
    id: { label: 'Contact ID', type: 'string' },
    revenue: { label: 'Revenue', type: 'number' },
    currency: { label: 'Currency', type: 'string' },
    metadata: { label: 'Event Metadata', type: 'object' }
  }
}

const SCHEMAS = Object.fromEntries(
  Object.entries(FIELDS).map(([action, fields]) => [action, core.fieldsToJsonSchema(fields)])
)

function runReference(action, payload) {
  const cleaned = removeEmptyValues(structuredClone(payload), SCHEMAS[action], true)
  try {
    core.validateSchema(cleaned, SCHEMAS[action], { schemaKey: `ferry:${action}` })
  } catch (error) {
    if (error.name !== 'AggregateAjvError') throw error
    return { valid: false, message: error.message, fields: blamedFields(error) }
  }
  // JSON.parse(JSON.stringify()) records exactly what Segment would send (Infinity becomes null).
  return { valid: true, payload: JSON.parse(JSON.stringify(cleaned)) }
}

function blamedFields(error) {
  const fields = new Set()
  for (const { pointer, message } of error.errors) {
    if (pointer) {
      fields.add(pointer.split('/')[1].replaceAll('~1', '/').replaceAll('~0', '~'))
      continue
    }
    const missing = /missing the required field '(.+)'/.exec(message)
    if (missing) fields.add(missing[1])
  }
  if (fields.size === 0) throw new Error(`no field blamed in: ${error.message}`)
  return [...fields].sort()
}

function isDatetime(action, key) {
  return FIELDS[action][key]?.type === 'datetime'
}

// Ferry's answer when it agrees with the reference: the same result, with each datetime field
// converted to the unix seconds the case states.
function expectedFromReference(name, action, reference, datetimes) {
  if (!reference.valid) return { valid: false, fields: reference.fields }
  const payload = { ...reference.payload }
  for (const key of Object.keys(payload)) {
    if (!isDatetime(action, key)) continue
    if (!(key in datetimes)) throw new Error(`${name}: state the unix seconds of ${key}`)
    payload[key] = datetimes[key]
  }
  return { valid: true, payload }
}

function buildCase({ name, action, payload, datetimes = {}, expected, deviation }) {
  const reference = runReference(action, payload)
  const result = { name, action, payload, reference }
  if (deviation === undefined) {
    if (expected !== undefined) throw new Error(`${name}: an expectation of its own needs a deviation`)
    return { ...result, expected: expectedFromReference(name, action, reference, datetimes) }
  }
  // A datetime the reference accepts but that stands for no instant is itself a departure.
  const accountedFor = Object.keys(reference.payload ?? {}).every(
    (key) => !isDatetime(action, key) || key in datetimes
  )
  const agreed = accountedFor ? expectedFromReference(name, action, reference, datetimes) : null
  if (JSON.stringify(expected) === JSON.stringify(agreed)) {
    throw new Error(`${name}: marked as a deviation but Ferry would agree with the reference`)
  }
  return { ...result, expected, deviation }
}

// Case names double as test ids, so they must stay unique and readable.
const asciiJson = (text) =>
  JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

// Hand-written cases. `datetimes` gives the unix seconds each accepted datetime must become,
// worked out by hand from the contract, not by any parser.
const HAND_WRITTEN = [
  // Identify Contact: role and the External ID / Email rule.
  { name: 'user with an external id', action: 'identify_contact', payload: { role: 'user', external_id: 'u-1' } },
  { name: 'user with an email only', action: 'identify_contact', payload: { role: 'user', email: 'ada@example.com' } },
  { name: 'user with no identifier', action: 'identify_contact', payload: { role: 'user', name: 'Ada' } },
  { name: 'lead with no identifier', action: 'identify_contact', payload: { role: 'lead', name: 'Ada' } },
  { name: 'no role', action: 'identify_contact', payload: { external_id: 'u-1' } },
  { name: 'unknown role', action: 'identify_contact', payload: { role: 'admin', external_id: 'u-1' } },
  { name: 'role in capitals', action: 'identify_contact', payload: { role: 'USER', external_id: 'u-1' } },
  { name: 'role in a one-element list', action: 'identify_contact', payload: { role: ['lead'] } },
  {
    name: 'user role in a list, no identifier',
    action: 'identify_contact',
    payload: { role: ['user'] },
    expected: { valid: false, fields: ['external_id'] },
    deviation:
      'Segment evaluates its conditional requirement before unwrapping ["user"], so the rule is skipped; we apply the rule to the coerced role.'
  },
  { name: 'user role in a list with an email', action: 'identify_contact', payload: { role: ['user'], email: 'ada@example.com' } },
  { name: 'invalid email', action: 'identify_contact', payload: { role: 'lead', email: 'not-an-email' } },
  { name: 'invalid email still counts as given', action: 'identify_contact', payload: { role: 'user', email: 'ada@' } },
  { name: 'null email and no external id', action: 'identify_contact', payload: { role: 'user', email: null } },
  { name: 'empty identifiers', action: 'identify_contact', payload: { role: 'user', email: '', external_id: '' } },
  { name: 'numeric external id', action: 'identify_contact', payload: { role: 'user', external_id: 12345 } },
  // Formats.
  { name: 'https avatar', action: 'identify_contact', payload: { role: 'lead', avatar: 'https://cdn.example.com/a/ada.png?s=64#x' } },
  { name: 'avatar that is not a URI', action: 'identify_contact', payload: { role: 'lead', avatar: 'ada.png' } },
  { name: 'avatar with an empty path', action: 'identify_contact', payload: { role: 'lead', avatar: 'mailto:' } },
  { name: 'avatar with one slash before an IPv6 host', action: 'identify_contact', payload: { role: 'lead', avatar: 'a:/[::1]' } },
  { name: 'avatar with a space', action: 'identify_contact', payload: { role: 'lead', avatar: 'https://example.com/my avatar.png' } },
  { name: 'avatar with a bad escape', action: 'identify_contact', payload: { role: 'lead', avatar: 'https://example.com/%zz' } },
  { name: 'email with subdomains and plus', action: 'identify_contact', payload: { role: 'lead', email: 'Ada.Lovelace+x@mail.Example.co.uk' } },
  ...[
    'https://[v.x]/', 'https://[vF.x:y]/', 'https://[1:2:3:4:5:6:7::]/', 'https://[1:2:3:4:5:6:7:8:9]/',
    'https://[::ffff:1.2.3.256]/', 'https://\u017f.example/', 'K://x', '\u212a://x', 'x:/'
  ].map((avatar) => ({ name: `avatar ${asciiJson(avatar)}`, action: 'identify_contact', payload: { role: 'lead', avatar } })),
  ...['\u017f@example.com', 'a@\u212aelvin.com', 'A@EXAMPLE.COM', "o'brien@example.com", 'a@b.c-d', 'a@1.2']
    .map((email) => ({ name: `email ${asciiJson(email)}`, action: 'identify_contact', payload: { role: 'lead', email } })),
  { name: 'email without a dot in the domain', action: 'identify_contact', payload: { role: 'lead', email: 'ada@localhost' } },
  { name: 'email with non-ASCII', action: 'identify_contact', payload: { role: 'lead', email: 'ädä@example.com' } },
  // Numbers.
  { name: 'owner id as a numeric string', action: 'identify_contact', payload: { role: 'lead', owner_id: '42' } },
  { name: 'owner id with surrounding spaces', action: 'identify_contact', payload: { role: 'lead', owner_id: ' 42\n' } },
  { name: 'owner id in hexadecimal', action: 'identify_contact', payload: { role: 'lead', owner_id: '0x2A' } },
  { name: 'owner id in exponent form', action: 'identify_contact', payload: { role: 'lead', owner_id: '4.2e1' } },
  { name: 'owner id as a boolean', action: 'identify_contact', payload: { role: 'lead', owner_id: true } },
  { name: 'owner id as words', action: 'identify_contact', payload: { role: 'lead', owner_id: 'forty-two' } },
  { name: 'owner id with a digit separator', action: 'identify_contact', payload: { role: 'lead', owner_id: '1_000' } },
  {
    name: 'owner id blank',
    action: 'identify_contact',
    payload: { role: 'lead', owner_id: '  ' },
    expected: { valid: false, fields: ['owner_id'] },
    deviation: 'Segment coerces a blank string to the number 0; a blank is not a numeric string, so we refuse it.'
  },
  {
    name: 'owner id Infinity',
    action: 'identify_contact',
    payload: { role: 'lead', owner_id: 'Infinity' },
    expected: { valid: false, fields: ['owner_id'] },
    deviation: 'Segment accepts "Infinity" and then sends null; we refuse a number JSON cannot carry.'
  },
  {
    name: 'owner id as a list holding null',
    action: 'identify_contact',
    payload: { role: 'lead', owner_id: [null] },
    expected: { valid: true, payload: { role: 'lead' } },
    deviation: 'Segment unwraps [null] and coerces null to 0; the contract drops null values, so we drop it.'
  },
  {
    name: 'name as a list holding an empty string',
    action: 'identify_contact',
    payload: { role: 'lead', name: [''] },
    expected: { valid: true, payload: { role: 'lead' } },
    deviation: 'Segment unwraps [""] after dropping empty values and sends ""; the contract drops "", so we drop it.'
  },
  {
    name: 'name as a list holding null',
    action: 'identify_contact',
    payload: { role: 'lead', name: [null] },
    expected: { valid: true, payload: { role: 'lead' } },
    deviation: 'Segment unwraps [null] and coerces null to ""; the contract drops null values, so we drop it.'
  },
  {
    name: 'unsubscribed as a list holding null',
    action: 'identify_contact',
    payload: { role: 'lead', unsubscribed_from_emails: [null] },
    expected: { valid: true, payload: { role: 'lead' } },
    deviation: 'Segment unwraps [null] and coerces null to false; the contract drops null values, so we drop it.'
  },
  // Booleans.
  { name: 'unsubscribed as "true"', action: 'identify_contact', payload: { role: 'lead', unsubscribed_from_emails: 'true' } },
  { name: 'unsubscribed as 0', action: 'identify_contact', payload: { role: 'lead', unsubscribed_from_emails: 0 } },
  { name: 'unsubscribed as "yes"', action: 'identify_contact', payload: { role: 'lead', unsubscribed_from_emails: 'yes' } },
  { name: 'unsubscribed as 2', action: 'identify_contact', payload: { role: 'lead', unsubscribed_from_emails: 2 } },
  { name: 'unsubscribed as "1"', action: 'identify_contact', payload: { role: 'lead', unsubscribed_from_emails: '1' } },
  // Strings from other types.
  { name: 'phone as a number', action: 'identify_contact', payload: { role: 'lead', phone: 5551234 } },
  { name: 'name as a huge number', action: 'identify_contact', payload: { role: 'lead', name: 1e21 } },
  { name: 'name as 10^20', action: 'identify_contact', payload: { role: 'lead', name: 1e20 } },
  { name: 'owner id after a byte order mark', action: 'identify_contact', payload: { role: 'lead', owner_id: '\ufeff42' } },
  { name: 'owner id after a control character', action: 'identify_contact', payload: { role: 'lead', owner_id: '\x1c42' } },
  { name: 'name as a tiny number', action: 'identify_contact', payload: { role: 'lead', name: 1e-7 } },
  { name: 'name as a fraction', action: 'identify_contact', payload: { role: 'lead', name: 0.1 } },
  { name: 'name as false', action: 'identify_contact', payload: { role: 'lead', name: false } },
  { name: 'name as an object', action: 'identify_contact', payload: { role: 'lead', name: { first: 'Ada' } } },
  { name: 'name as a two-element list', action: 'identify_contact', payload: { role: 'lead', name: ['Ada', 'L'] } },
  // Objects.
  { name: 'custom attributes kept as given', action: 'identify_contact', payload: { role: 'lead', custom_attributes: { plan: 'pro', gone: null, blank: '', list: [1] } } },
  { name: 'custom attributes empty', action: 'identify_contact', payload: { role: 'lead', custom_attributes: {} } },
  { name: 'custom attributes as a string', action: 'identify_contact', payload: { role: 'lead', custom_attributes: 'plan=pro' } },
  { name: 'custom attributes in a list', action: 'identify_contact', payload: { role: 'lead', custom_attributes: [{ plan: 'pro' }] } },
  // Datetimes.
  { name: 'ISO timestamp in UTC', action: 'identify_contact', payload: { role: 'lead', signed_up_at: '2024-01-01T00:00:00.000Z' }, datetimes: { signed_up_at: 1704067200 } },
  { name: 'ISO timestamp with an offset', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '2024-03-10T15:30:00+02:00' }, datetimes: { last_seen_at: 1710077400 } },
  { name: 'date only', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '2024-03-10' }, datetimes: { last_seen_at: 1710028800 } },
  { name: 'ISO timestamp without an offset', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '2024-01-01T10:00:00' }, datetimes: { last_seen_at: 1704103200 } },
  { name: 'ISO timestamp with a space', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '2024-01-01 10:00:00Z' }, datetimes: { last_seen_at: 1704103200 } },
  { name: 'ISO offset without a colon', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '2024-01-01T10:00:00+0200' }, datetimes: { last_seen_at: 1704096000 } },
  { name: 'ISO timestamp to the minute', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '2024-01-01T10:00Z' }, datetimes: { last_seen_at: 1704103200 } },
  { name: 'ISO timestamp with nanoseconds', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '2024-01-01T09:59:30.999999999Z' }, datetimes: { last_seen_at: 1704103170 } },
  { name: 'unix seconds', action: 'identify_contact', payload: { role: 'lead', last_seen_at: 1700000000 }, datetimes: { last_seen_at: 1700000000 } },
  { name: 'unix milliseconds', action: 'identify_contact', payload: { role: 'lead', last_seen_at: 1700000000123 }, datetimes: { last_seen_at: 1700000000 } },
  { name: 'unix seconds as text', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '1700000000' }, datetimes: { last_seen_at: 1700000000 } },
  { name: 'unix milliseconds as text', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '1700000000999' }, datetimes: { last_seen_at: 1700000000 } },
  { name: 'fractional unix seconds', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '1700000000.9' }, datetimes: { last_seen_at: 1700000000 } },
  { name: '10^11 is still seconds', action: 'identify_contact', payload: { role: 'lead', last_seen_at: 100000000000 }, datetimes: { last_seen_at: 100000000000 } },
  { name: 'just above 10^11 is milliseconds', action: 'identify_contact', payload: { role: 'lead', last_seen_at: 100000000001 }, datetimes: { last_seen_at: 100000000 } },
  { name: 'negative unix seconds', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '-86400' }, datetimes: { last_seen_at: -86400 } },
  { name: 'a bare year is unix seconds', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '2024' }, datetimes: { last_seen_at: 2024 } },
  { name: 'unix seconds in a list', action: 'identify_contact', payload: { role: 'lead', last_seen_at: [1700000000] }, datetimes: { last_seen_at: 1700000000 } },
  { name: 'datetime in words', action: 'identify_contact', payload: { role: 'lead', last_seen_at: 'yesterday' } },
  { name: 'datetime as a boolean', action: 'identify_contact', payload: { role: 'lead', last_seen_at: true } },
  { name: 'datetime in exponent form', action: 'identify_contact', payload: { role: 'lead', last_seen_at: '1.7e9' } },
  { name: 'datetime as an object', action: 'identify_contact', payload: { role: 'lead', last_seen_at: { at: 1 } } },
  {
    name: 'ISO offset in hours only',
    action: 'identify_contact',
    payload: { role: 'lead', last_seen_at: '2024-01-01T10:00:00+02' },
    expected: { valid: true, payload: { role: 'lead', last_seen_at: 1704096000 } },
    deviation: 'ISO-8601 allows an offset of hours only and the contract accepts ISO-8601; Segment\'s date parser refuses it.'
  },
  {
    name: 'ISO decimal comma',
    action: 'identify_contact',
    payload: { role: 'lead', last_seen_at: '2024-01-01T10:00:00,5Z' },
    expected: { valid: true, payload: { role: 'lead', last_seen_at: 1704103200 } },
    deviation: 'ISO-8601 allows a decimal comma and the contract accepts ISO-8601; Segment\'s date parser refuses it.'
  },
  {
    name: 'impossible day',
    action: 'identify_contact',
    payload: { role: 'lead', last_seen_at: '2024-02-30' },
    expected: { valid: false, fields: ['last_seen_at'] },
    deviation: 'Segment\'s lenient date check rolls 30 February over to March; the contract only takes real ISO-8601 dates.'
  },
  {
    name: 'impossible month',
    action: 'identify_contact',
    payload: { role: 'lead', last_seen_at: '2024-13-45' },
    expected: { valid: false, fields: ['last_seen_at'] },
    deviation: 'Segment\'s lenient date check accepts month 13; the contract only takes real ISO-8601 dates.'
  },
  {
    name: 'hour 24',
    action: 'identify_contact',
    payload: { role: 'lead', last_seen_at: '2024-01-01T24:00:00Z' },
    expected: { valid: false, fields: ['last_seen_at'] },
    deviation: 'Segment\'s lenient date check accepts hour 24; we read ISO-8601 times as 00:00 to 23:59:59.'
  },
  {
    name: 'English date',
    action: 'identify_contact',
    payload: { role: 'lead', last_seen_at: 'March 5, 2024' },
    expected: { valid: false, fields: ['last_seen_at'] },
    deviation: 'Segment accepts anything its date parser reads; the contract accepts ISO-8601 and unix timestamps only.'
  },
  {
    name: 'unix seconds past year 9999',
    action: 'identify_contact',
    payload: { role: 'lead', last_seen_at: 1e300 },
    expected: { valid: false, fields: ['last_seen_at'] },
    deviation: 'Segment accepts any number as a date; we refuse instants outside the years 1 to 9999, which no system can store.'
  },
  { name: 'keys that are not fields are dropped', action: 'identify_contact', payload: { role: 'lead', plan: 'pro', gone: null, blank: '' } },
  {
    name: 'a typical identify',
    action: 'identify_contact',
    payload: {
      role: 'user',
      external_id: 'u-123',
      email: 'ada@example.com',
      phone: '+44 20 7946 0000',
      name: 'Ada Lovelace',
      avatar: 'https://example.com/ada.png',
      last_seen_at: '2024-06-01T12:00:00.000Z',
      custom_attributes: { plan: 'pro' }
    },
    datetimes: { last_seen_at: 1717243200 }
  },

  // Identify Company.
  { name: 'company id only', action: 'identify_company', payload: { company_id: 'c-1' } },
  { name: 'numeric company id', action: 'identify_company', payload: { company_id: 123 } },
  { name: 'no company id', action: 'identify_company', payload: { name: 'Acme' } },
  { name: 'empty company id', action: 'identify_company', payload: { company_id: '' } },
  { name: 'company id as an empty list', action: 'identify_company', payload: { company_id: [] } },
  { name: 'spend and size as text', action: 'identify_company', payload: { company_id: 'c-1', monthly_spend: '19.99', size: '1e3' } },
  { name: 'spend as words', action: 'identify_company', payload: { company_id: 'c-1', monthly_spend: 'a lot' } },
  { name: 'website is not checked', action: 'identify_company', payload: { company_id: 'c-1', website: 'acme dot com' } },
  { name: 'company contact fields', action: 'identify_company', payload: { company_id: 'c-1', contact_id: 42, external_id: 'u-1', email: 'nope' } },
  {
    name: 'a typical group',
    action: 'identify_company',
    payload: {
      company_id: 'c-9',
      name: 'Acme',
      remote_created_at: '2024-05-20T09:30:00Z',
      monthly_spend: 499,
      plan: 'enterprise',
      size: 250,
      website: 'https://acme.example',
      industry: 'Anvils',
      custom_attributes: { region: 'EMEA' },
      external_id: 'u-1',
      email: 'ada@example.com'
    },
    datetimes: { remote_created_at: 1716197400 }
  },

  // Track Event.
  {
    name: 'a typical track',
    action: 'track_event',
    payload: {
      event_name: 'Order Completed',
      created_at: '2024-06-01T00:00:00.000Z',
      user_id: 'u-1',
      email: 'ada@example.com',
      revenue: 19.99,
      currency: 'EUR',
      metadata: { order_id: 'o-1', revenue: 19.99, items: [{ sku: 'x' }] }
    },
    datetimes: { created_at: 1717200000 }
  },
  { name: 'track with no identifier', action: 'track_event', payload: { event_name: 'Signed Up', created_at: 1700000000 }, datetimes: { created_at: 1700000000 } },
  { name: 'track with a contact id only', action: 'track_event', payload: { event_name: 'Signed Up', created_at: 1700000000, id: '65f0c0ffee' }, datetimes: { created_at: 1700000000 } },
  { name: 'track with an email only', action: 'track_event', payload: { event_name: 'Signed Up', created_at: 1700000000, email: 'ada@example.com' }, datetimes: { created_at: 1700000000 } },
  { name: 'track with only an invalid email', action: 'track_event', payload: { event_name: 'Signed Up', created_at: 1700000000, email: 'ada' } },
  { name: 'track without a timestamp', action: 'track_event', payload: { event_name: 'Signed Up', user_id: 'u-1' } },
  { name: 'track without a name and a bad timestamp', action: 'track_event', payload: { created_at: 'soon', user_id: 'u-1' } },
  { name: 'revenue as text, currency as a number', action: 'track_event', payload: { event_name: 'Paid', created_at: 0, user_id: 'u-1', revenue: '19.99', currency: 978 }, datetimes: { created_at: 0 } },
  { name: 'zero revenue is kept', action: 'track_event', payload: { event_name: 'Paid', created_at: 0, user_id: 'u-1', revenue: 0 }, datetimes: { created_at: 0 } },
  { name: 'empty revenue is dropped', action: 'track_event', payload: { event_name: 'Paid', created_at: 0, user_id: 'u-1', revenue: '' }, datetimes: { created_at: 0 } },
  { name: 'metadata as a string', action: 'track_event', payload: { event_name: 'Paid', created_at: 0, user_id: 'u-1', metadata: 'x' } },
  { name: 'metadata as a list', action: 'track_event', payload: { event_name: 'Paid', created_at: 0, user_id: 'u-1', metadata: [] } },
  { name: 'user id nested in two lists', action: 'track_event', payload: { event_name: 'Paid', created_at: 0, user_id: [['u-1']] } },
  { name: 'event name in a list', action: 'track_event', payload: { event_name: ['Signed Up'], created_at: 0, user_id: 'u-1' }, datetimes: { created_at: 0 } },
  { name: 'event name as a number', action: 'track_event', payload: { event_name: 404, created_at: 0, user_id: 'u-1' }, datetimes: { created_at: 0 } }
]

// Random payloads. Every generated datetime carries the seconds it stands for, known by
// construction; the pools leave out the values where we deliberately differ (those are above).
function mulberry32(seed) {
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
const pick = (list) => list[Math.floor(random() * list.length)]
const integer = (low, high) => low + Math.floor(random() * (high - low + 1))
const randomText = (alphabet, maxLength) =>
  Array.from({ length: integer(1, maxLength) }, () => pick(alphabet)).join('')

const EMPTY = [null, '']
const POOLS = {
  string: [
    'Ada', 'Ada Lovelace', ' ', 42, 12.5, 1e20, 1.2345678901234568e20, 1e21, 1e-7, 1.5e-6, 0, -0.5, 0.1, 123456789012, true, false,
    ['x'], [7], [true], [], ['a', 'b'], {}, { a: 1 }, [['x']], ...EMPTY
  ],
  email: [
    'ada@example.com', 'Ada.Lovelace+x@mail.example.co.uk', 'not-an-email', 'a@b', 'a@b.c',
    '@example.com', 'a@-b.com', 'a@b-.com', 'a b@example.com', 'ünï@example.com', 'a@example.com ',
    'a..b@example.com', '.a@example.com', 'a@example..com', 'user@[127.0.0.1]', 'A@B.CO', 42,
    true, ['ada@example.com'], {}, ...EMPTY
  ],
  emailAlphabet: ['a', 'b', 'Z', '9', '.', '.', '@', '@', '-', '_', '+', ' ', 'é', '!'],
  uri: [
    'https://example.com/a.png', 'http://x', 'mailto:ada@example.com', 'not a uri', '//example.com/x',
    'a:', 'https://[::1]:8080/x', 'https://[2001:db8::1]/', 'https://[v1.fe]/', 'https://[1::2::3]/',
    'https://[::ffff:192.168.0.1]/', 'https://[::ffff:01.02.03.04]/',
    'https://user:pw@example.com:8080/p?q=1#frag', 'https://example.com/%2F', 'https://exa mple.com',
    'urn:isbn:0451450523', 'HTTP://EXAMPLE.COM', 'https://example.com/ä', '1http://x', 'h:x',
    'https://example.com/a?b#c#d', 'https://example.com:port/', 42, ['http://x'], {}, ...EMPTY
  ],
  uriAlphabet: ['h', 'T', ':', ':', '/', '/', '[', ']', '%', '2', 'f', '.', '@', '?', '#', ' ', '1', 'v', '-'],
  number: [
    5, 0, -3.5, 1e21, '5', '19.99', ' 7 ', '\t8\n', '\u00a09\u00a0', '0x1f', '0X1F', '0o17', '0b101', '\ufeff6', '\u20287', '\x1c5', '\x855',
    '1e3', '-1e-3', '5.', '.5', '+5', '-5', 'abc', '1_000', '--5', '0x', '-0x10', '1,5', '١٢', '0x1g',
    true, false, [3], ['4'], [true], [[1]], {}, [], ...EMPTY
  ],
  boolean: [
    true, false, 'true', 'false', 1, 0, 'TRUE', 'yes', 2, -1, 0.5, '1', '0', [true], ['false'], [1],
    [[true]], {}, [], ...EMPTY
  ],
  object: [
    { a: 1 }, { nested: { x: null, y: '' } }, {}, 'x', [], [{}], [{ a: 1 }], 5, true, { list: [1, 2] },
    ...EMPTY
  ],
  role: ['user', 'lead', 'lead', 'user', 'admin', 'User', ['lead'], 1, true, {}, [], [['lead']], ...EMPTY]
}

const OFFSETS_IN_MINUTES = [-480, -300, -150, 0, 60, 330, 345, 600]
const pad = (number) => String(number).padStart(2, '0')

function randomDatetime() {
  const seconds = integer(-2_000_000_000, 4_000_000_000)
  const isoOf = (instant) => new Date(instant * 1000).toISOString()
  const forms = [
    () => [seconds, seconds],
    () => [String(seconds), seconds],
    () => [seconds + 0.5, seconds],
    () => {
      const positive = Math.abs(seconds) + 100_000_001
      return [positive * 1000 + integer(0, 999), positive]
    },
    () => {
      const positive = Math.abs(seconds) + 100_000_001
      return [String(positive * 1000 + integer(0, 999)), positive]
    },
    () => [isoOf(seconds), seconds],
    () => [isoOf(seconds).slice(0, 19), seconds],
    () => [isoOf(seconds).slice(0, 19).replace('T', ' '), seconds],
    () => [isoOf(seconds).slice(0, 16) + 'Z', seconds - (((seconds % 60) + 60) % 60)],
    () => [isoOf(seconds).slice(0, 10), seconds - (((seconds % 86400) + 86400) % 86400)],
    () => {
      const offset = pick(OFFSETS_IN_MINUTES)
      const sign = offset < 0 ? '-' : '+'
      const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
      return [isoOf(seconds + offset * 60).slice(0, 23) + zone, seconds]
    },
    () => [pick(['yesterday', 'not a date', '1.7e9', ' 1700000000', '0x10', true, false, {}, [], ['1', '2']]), null],
    () => [pick(EMPTY), null]
  ]
  return pick(forms)()
}

function randomValue(kind) {
  if (kind === 'email' && random() < 0.3) return randomText(POOLS.emailAlphabet, 12)
  if (kind === 'uri' && random() < 0.3) return randomText(POOLS.uriAlphabet, 14)
  return structuredClone(pick(POOLS[kind]))
}

function kindOf(key, field) {
  if (field.choices) return 'role'
  if (field.format) return field.format
  return field.type
}

function drawInto(payload, datetimes, action, key) {
  const field = FIELDS[action][key]
  delete datetimes[key]
  if (field.type !== 'datetime') {
    payload[key] = randomValue(kindOf(key, field))
    return
  }
  const [value, seconds] = randomDatetime()
  payload[key] = value
  if (seconds !== null) datetimes[key] = seconds
}

// Every other case is redrawn, field by field, until the reference accepts it, so that accepted
// payloads (and their coerced values) are as common as rejected ones.
const REDRAWS = 12

function randomCase(action, index) {
  const payload = {}
  const datetimes = {}
  for (const [key, field] of Object.entries(FIELDS[action])) {
    if (random() < (field.required === true ? 0.1 : 0.4)) continue
    drawInto(payload, datetimes, action, key)
  }
  if (random() < 0.2) payload[pick(['plan', 'userId', 'traits'])] = randomValue('string')
  for (let round = 0; index % 2 === 0 && round < REDRAWS; round++) {
    const reference = runReference(action, payload)
    if (reference.valid) break
    for (const key of reference.fields) drawInto(payload, datetimes, action, key)
  }
  const built = buildCase({ name: `random ${action} ${index}`, action, payload, datetimes })
  checkDatetimeAssumptions(built, datetimes)
  return built
}

// A generated datetime must be accepted by the reference exactly when it stands for an instant;
// anything else would be an undocumented deviation hiding in the random cases.
function checkDatetimeAssumptions(built, datetimes) {
  const blamed = new Set(built.reference.valid ? [] : built.reference.fields)
  for (const [key, value] of Object.entries(built.payload)) {
    if (!isDatetime(built.action, key) || value === null || value === '') continue
    if ((key in datetimes) === blamed.has(key)) {
      throw new Error(`${built.name}: the reference disagrees about ${key} = ${JSON.stringify(value)}`)
    }
  }
}

const cases = [
  ...HAND_WRITTEN.map(buildCase),
  ...Object.keys(FIELDS).flatMap((action) =>
    Array.from({ length: RANDOM_CASES_PER_ACTION }, (_, index) => randomCase(action, index))
  )
]

const versionOf = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version

const header = {
  generated_by: 'tools/reference/payload_cases.mjs',
  reference: {
    '@segment/actions-core': versionOf('@segment/actions-core'),
    ajv: versionOf('ajv'),
    'ajv-formats': versionOf('ajv-formats'),
    dayjs: versionOf('dayjs')
  },
  seed: SEED,
  fields: FIELDS
}
const body = JSON.stringify(header, null, 2).replace(/\n}$/, ',\n  "cases": [\n')
writeFileSync(OUTPUT, body + cases.map((c) => '    ' + JSON.stringify(c)).join(',\n') + '\n  ]\n}\n')
console.log(`wrote ${cases.length} cases to ${OUTPUT.pathname}`)
