// Conformance fixtures for mappings/directives.py, produced by Segment's own mapping kit.
//
// Run from tools/reference/ (after `npm ci`):   node mapping_cases.mjs
// Writes ../../tests/mappings/fixtures/directives.json. Each case holds a mapping and an
// event (or a field mapping, for getFieldValueKeys) and what @segment/actions-core answered:
// the result, or the error messages. `static_errors` is what the validator alone says (null
// when the mapping passes it). Hand-written cases come first, then seeded random ones.
// Where Ferry knowingly differs, the hand-written case carries `deviation` (why) and `ours`
// (what Ferry returns instead); the Python suite asserts `ours` for those.

import { createRequire } from 'node:module'
import { writeFileSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
const { transform, getFieldValueKeys } = require('@segment/actions-core')
const validate = require('@segment/actions-core/mapping-kit/validate').default

const here = dirname(fileURLToPath(import.meta.url))
// For a wider one-off comparison, override the random part (the committed file uses the defaults):
//   MAPPING_CASES_SEED=7 MAPPING_CASES_COUNT=5000 MAPPING_CASES_OUT=/tmp/wide.json node mapping_cases.mjs
const OUTPUT = process.env.MAPPING_CASES_OUT ?? join(here, '../../tests/mappings/fixtures/directives.json')
const ROOT_KEY = '__segment_internal_directive'
const RANDOM_SEED = Number(process.env.MAPPING_CASES_SEED ?? 20240501)
const RANDOM_CASES = Number(process.env.MAPPING_CASES_COUNT ?? 450)

// --- running the reference ----------------------------------------------------------------

function messagesOf(error) {
  if (error && typeof error[Symbol.iterator] === 'function') {
    return [...error].flatMap(messagesOf)
  }
  return [String(error && error.message)]
}

function copy(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value))
}

// The mapping the kit validates: the root-directive rule applied, or the mapping spread.
function mappingToValidate(mapping) {
  Object.keys(mapping) // throws for null, as the kit does before anything else
  if (mapping === null || typeof mapping !== 'object' || Array.isArray(mapping) || !(ROOT_KEY in mapping)) {
    return { ...mapping }
  }
  const customer = {}
  for (const key of Object.keys(mapping)) if (key !== ROOT_KEY) customer[key] = mapping[key]
  const root = mapping[ROOT_KEY]
  const keys = Object.keys(root)
  if (keys.length > 1) throw new Error('The root mapping must only have a single directive object')
  const options = root[keys[0]]
  if (!options || typeof options !== 'object') throw new Error('The root directive must be an object')
  options.mapping = customer
  return root
}

function staticErrors(mapping) {
  try {
    validate(mappingToValidate(copy(mapping)))
    return null
  } catch (error) {
    return messagesOf(error)
  }
}

function runTransform(spec) {
  const result = { op: 'transform', ...spec }
  try {
    const output = transform(copy(spec.mapping), copy(spec.data))
    if (output === undefined) {
      result.expected = null
      result.expected_undefined = true
    } else {
      result.expected = JSON.parse(JSON.stringify(output))
    }
  } catch (error) {
    result.error = messagesOf(error)
  }
  result.static_errors = staticErrors(spec.mapping)
  return result
}

function runValueKeys(spec) {
  const result = { ...spec }
  try {
    result.expected = getFieldValueKeys(copy(spec.mapping))
  } catch (error) {
    result.error = messagesOf(error)
  }
  return result
}

// --- hand-written cases -----------------------------------------------------------------

const EVENT = {
  type: 'track',
  event: 'Order Completed',
  userId: 'user-1',
  anonymousId: 'anon-1',
  timestamp: '2024-05-01T12:00:00.000Z',
  properties: {
    email: 'Jane@Example.com',
    revenue: 42.5,
    currency: 'USD',
    plan: null,
    zero: 0,
    empty: '',
    no: false,
    yes: true,
    tiny: 1.5e-7,
    small: 0.000001,
    big: 1e21,
    large: 1e20,
    sum: 0.30000000000000004,
    items: [
      { sku: 'a-1', price: 10, tags: ['x', 'y'] },
      { sku: 'b-2', price: 2.5, tags: [] },
      { sku: null, price: 0 }
    ],
    'x y': 'spaced',
    'a.b': 'dotted',
    'a[b]': 'bracketed',
    $: 'dollar',
    nested: { deep: { deeper: 'bottom', list: [1, [2, 3], null] } },
    numbers: [3, 1, 2],
    mixed: [null, 1, null],
    emoji: '😀x',
    text: 'Hello World'
  },
  context: { ip: '1.2.3.4', library: { name: 'analytics.js', version: '2.11.0' } },
  integrations: { 'Actions Amplitude': { session_id: 1234 } },
  traits: { name: 'Jane', email: 'jane@example.com', tpl: '{{userId}}' }
}

const hand = []
function t(name, mapping, data = EVENT, extra = {}) {
  hand.push({ name, mapping, data, ...extra })
}
function keys(name, mapping, extra = {}) {
  hand.push({ name, op: 'field_value_keys', mapping, ...extra })
}
const path = (p) => ({ '@path': p })
const field = (directive) => ({ out: directive })

// 1.2 transform: root handling, data checks
t('empty mapping gives an empty object', {})
t('data number is refused', { a: path('$.a') }, 5)
t('data string is refused', { a: path('$.a') }, 'x')
t('data array is refused', { a: path('$.a') }, [1])
t('data null is refused', { a: path('$.a') }, null)
t('data boolean is refused', { a: path('$.a') }, true)
t('data check comes before validation', { a: { '@bad': 1 } }, 7)
t('array root is spread by index', ['cool'])
t('array root with a directive is spread and resolved', [path('$.event'), 'x'])
t('array root element is validated after spreading', [{ '@bad': 1 }])
t('string root is spread into characters', 'neat')
t('string root with an astral character spreads UTF-16 units', 'a😀')
t('number root gives an empty object', 5)
t('null root is refused', null)
t('boolean root gives an empty object', true)
t('root directive mapping returns its value', path('$.event'))
t('root directive mapping returning nothing', path('$.nope'))
t('root directive mapping returning an object', path('$.context'))
t('root directive mapping returning an array with holes', { '@literal': [path('$.nope'), 1] })
t('root internal directive runs apply then the customer mapping', {
  [ROOT_KEY]: { '@transform': { apply: { who: path('$.userId'), what: path('$.event') } } },
  user: path('$.who'),
  label: { '@template': '{{who}}: {{what}}' },
  original: path('$.type')
})
t('root internal directive replaces an existing mapping option', {
  [ROOT_KEY]: { '@transform': { apply: { who: path('$.userId') }, mapping: { old: 1 } } },
  user: path('$.who')
})
t('root internal directive with two keys is refused', { [ROOT_KEY]: { '@transform': {}, '@path': 'x' }, a: 1 })
t('root internal directive that is a number is refused', { [ROOT_KEY]: 5, a: 1 })
t('root internal directive that is null is refused', { [ROOT_KEY]: null, a: 1 })
t('root internal directive that is empty is refused', { [ROOT_KEY]: {}, a: 1 })
t('root internal directive with a string option is refused', { [ROOT_KEY]: { '@path': 'x' }, a: 1 })
t('root internal directive that is a two-character string is refused', { [ROOT_KEY]: 'ab', a: 1 })
t('root internal directive that is a one-character string is refused', { [ROOT_KEY]: 'a', a: 1 })
t('root internal directive with an object option for @path fails validation', { [ROOT_KEY]: { '@path': { a: 1 } }, b: 2 })
t('root internal directive that is a plain object', { [ROOT_KEY]: { plain: { k: path('$.event') } }, c: path('$.userId') })
t('root internal directive as a one-item list', { [ROOT_KEY]: [{ apply: 1 }], c: path('$.userId') })
t('root internal directive with an invalid customer field', {
  [ROOT_KEY]: { '@transform': { apply: { who: path('$.userId') } } },
  bad: { '@path': 5 }
})

// 1.1 / 1.7 resolution and cleanup
t('raw values are returned unchanged', { s: 'text', n: 1.5, b: false, z: null, o: { a: [1, 'x'] } })
t('a raw string is never a template', { s: '{{event}}' })
t('missing keys are removed recursively and empty objects kept', {
  x: { y: { z: path('$.nope') } },
  w: path('$.nope'),
  v: { u: path('$.event') }
})
t('missing array items stay as holes', { list: [path('$.nope'), 1, { k: path('$.nope') }] })
t('null values are kept', { a: path('$.properties.plan'), b: null })
t('directive objects inside arrays run', { list: [path('$.event'), [path('$.userId')]] })
t('an @-key object with other keys inside an array is data', { list: [{ '@path': '$.event', other: 1 }] })
t('_metadata beside a directive is ignored', { a: { '@path': '$.event', _metadata: { label: 'Event' } } })
t('unknown directive inside an array fails at run time', { a: [{ '@oops': 1 }] })
t('two directive keys inside an array: the first one runs', { a: [{ '@path': '$.event', '@template': 'x' }] })

// 1.3 path lookup
t('path with $. prefix', field(path('$.event')))
t('path without $. prefix', field(path('properties.email')))
t('path deletes the first $. anywhere', field(path('properties.$.email')))
t('path deletes only the first $.', field(path('$.$.x')), { $: { x: 'inner' }, x: 'outer' })
t('lone $ looks up a key named $', field(path('$')), { $: 'dollar' })
t('$. alone returns the whole event', field(path('$.')), { a: 1, b: [2] })
t('empty path returns the whole event', field(path('')), { a: 1 })
t('dot path returns the whole event', field(path('.')), { a: 1 })
t('double dot returns the whole event', field(path('..')), { a: 1 })
t('array index with brackets', field(path('$.properties.items[0].sku')))
t('array index with dots', field(path('$.properties.items.1.price')))
t('quoted key with a space', field(path("$.properties['x y']")))
t('double-quoted key with a space', field(path('$.properties["x y"]')))
t('bare brackets without a digit are a literal key', field(path('$.properties.a[b]')))
t('a key containing a dot cannot be reached', field(path("$.properties['a.b']")))
t('a key containing a dot cannot be reached with dots', field(path('$.properties.a.b')))
t('spaces are ordinary characters', field(path('integrations.Actions Amplitude.session_id')))
t('a falsy 0 stops the walk', field(path('$.properties.zero.x')))
t('a null stops the walk', field(path('$.properties.plan.x')))
t('an empty string stops the walk', field(path('$.properties.empty.x')))
t('a false stops the walk', field(path('$.properties.no.x')))
t('a missing key is missing', field(path('$.properties.nope.x')))
t('length of a string', field(path('$.properties.text.length')))
t('length of an array', field(path('$.properties.items.length')))
t('length of a string with an astral character counts UTF-16 units', field(path('$.properties.emoji.length')))
t('string index gives a character', field(path('$.properties.text.0')))
t('string index past the end is missing', field(path('$.properties.text.99')))
t('astral string index gives half a surrogate pair', field(path('$.properties.emoji.1')))
t('indexing a number is missing', field(path('$.properties.revenue.x')))
t('indexing true is missing', field(path('$.properties.yes.x')))
t('negative array index is missing', field(path('$.properties.items.-1')))
t('array index with a leading zero is missing', field(path('$.properties.items.01')))
t('array index past the end is missing', field(path('$.properties.items.9')))
t('prototype member names are missing', { a: path('$.properties.constructor'), b: path('$.properties.text.toString') })
t('run of closing brackets after a digit', field(path('$.properties.items[0]]].sku')))
t('quoted index', field(path("$.properties.items['1'].sku")))
t('quotes are removed from plain segments too', field(path("$.properti'es.event")), { properties: { event: 'quoted' } })
t('integer-like object keys', field(path('$.map.2')), { map: { 2: 'two', b: 'bee' } })
t('own key named constructor is found', field(path('$.constructor')), { constructor: 'own' })
t('@path with a template option', field({ '@path': { '@template': 'properties.{{traits.name}}' } }), {
  properties: { Jane: 'found' },
  traits: { name: 'Jane' }
})
t('@path whose option path finds nothing', field({ '@path': path('$.nope') }))
t('@path whose option resolves to null', field({ '@path': { '@literal': null } }))
t('@path whose option resolves to an array', field({ '@path': { '@literal': ['a'] } }))
t('@path number option fails validation', field({ '@path': 5 }))
t('@path object option fails validation', field({ '@path': { a: 1 } }))
t('@path number option inside an array fails at run time', { a: [{ '@path': 5 }] })
t('@path plain object option inside an array fails at run time', { a: [{ '@path': { a: 1 } }] })

// 1.4 @template
t('template basic', field({ '@template': '{{event}} by {{userId}}' }))
t('template nested path', field({ '@template': 'Email: {{properties.email}}' }))
t('template missing and null become empty', field({ '@template': '[{{nope}}][{{properties.plan}}]' }))
t('template numbers in JavaScript form', field({
  '@template': '{{properties.revenue}} {{properties.tiny}} {{properties.small}} {{properties.big}} {{properties.large}} {{properties.sum}} {{properties.zero}}'
}))
t('template booleans', field({ '@template': '{{properties.yes}}/{{properties.no}}' }))
t('template arrays join with commas', field({ '@template': '{{properties.numbers}}|{{properties.mixed}}|{{properties.nested.deep.list}}' }))
t('template objects', field({ '@template': '{{properties.nested}} {{properties.items}}' }))
t('template triple braces', field({ '@template': '{{{event}}}' }))
t('template triple braces are not escaped', field({ '@template': '{{{v}}} {{v}}' }), { v: '<b>&</b>' })
t('template triple-brace output is expanded again', field({ '@template': '{{{traits.tpl}}}' }))
t('template double-brace output is not expanded again', field({ '@template': '{{traits.tpl}}' }))
t('template empty braces stay', field({ '@template': 'a{{}}b' }))
t('template unterminated stays', field({ '@template': 'a {{event' }))
t('template brace inside key stays', field({ '@template': '{{a}b}}' }), { a: 1 })
t('template blank key renders the root', field({ '@template': '[{{ }}]' }))
t('template extra closing brace', field({ '@template': '{{event}}}' }))
t('template four braces', field({ '@template': '{{{{event}}}}' }))
t('template three open two close', field({ '@template': '{{{event}}' }))
t('template does not strip $.', field({ '@template': '[{{$.event}}]' }))
t('template trims whitespace around the key', field({ '@template': '{{  event\t}}|{{\nuserId }}' }))
t('template trims JavaScript whitespace', field({ '@template': '{{\u00a0event\ufeff}}' }))
t('template quoted key', field({ '@template': "{{properties['x y']}} {{ 'event' }}" }))
t('template length and index', field({ '@template': '{{properties.text.length}} {{properties.items[1].sku}}' }))
t('template with no placeholders', field({ '@template': 'plain text' }))
t('template empty string', field({ '@template': '' }))
t('template multiline key', field({ '@template': '{{event\n}}' }))
t('template with a directive option', field({ '@template': path('$.tpl') }), { tpl: 'Hi {{name}}', name: 'Jo' })
t('template directive option resolving to a number', field({ '@template': path('$.n') }), { n: 4 })
t('template number option fails validation', field({ '@template': 4 }))
t('template number option inside an array fails at run time', { a: [{ '@template': 4 }] })
t('template joins surrogate halves back together', field({ '@template': '{{properties.emoji.0}}{{properties.emoji.1}}' }))
t('template over a large integer', field({ '@template': '{{n}}' }), { n: 123456789012 })

// @literal
t('literal string is not a template', field({ '@literal': '{{event}}' }))
t('literal object runs nested directives', field({ '@literal': { a: path('$.event'), b: 1 } }))
t('literal wrapping a directive runs it', field({ '@literal': path('$.userId') }))
t('literal null is kept', field({ '@literal': null }))
t('literal array with directives', field({ '@literal': [path('$.event'), path('$.nope')] }))
t('literal empty object', field({ '@literal': {} }))
t('literal false and zero', { a: { '@literal': false }, b: { '@literal': 0 } })
t('literal with an invalid nested directive', field({ '@literal': { '@bad': 1 } }))

// @if
const cond = (options) => field({ '@if': options })
t('if exists true takes then', cond({ exists: path('$.event'), then: 'yes', else: 'no' }))
t('if exists missing takes else', cond({ exists: path('$.nope'), then: 'yes', else: 'no' }))
t('if exists null takes else', cond({ exists: path('$.properties.plan'), then: 'yes', else: 'no' }))
t('if exists counts empty string, zero and false', {
  a: { '@if': { exists: path('$.properties.empty'), then: 'yes', else: 'no' } },
  b: { '@if': { exists: path('$.properties.zero'), then: 'yes', else: 'no' } },
  c: { '@if': { exists: path('$.properties.no'), then: 'yes', else: 'no' } }
})
t('if without then gives nothing when true', cond({ exists: path('$.event'), else: 'no' }))
t('if without else gives nothing when false', cond({ exists: path('$.nope'), then: 'yes' }))
t('if then can be falsy values', {
  a: { '@if': { exists: path('$.event'), then: false } },
  b: { '@if': { exists: path('$.event'), then: 0 } },
  c: { '@if': { exists: path('$.event'), then: null } },
  d: { '@if': { exists: path('$.event'), then: '' } }
})
t('if a falsy raw else is ignored', {
  a: { '@if': { exists: path('$.nope'), then: 1, else: false } },
  b: { '@if': { exists: path('$.nope'), then: 1, else: 0 } },
  c: { '@if': { exists: path('$.nope'), then: 1, else: '' } },
  d: { '@if': { exists: path('$.nope'), then: 1, else: null } }
})
t('if else can be an empty object or array', {
  a: { '@if': { exists: path('$.nope'), else: {} } },
  b: { '@if': { exists: path('$.nope'), else: [] } }
})
t('if then and else run directives', cond({ exists: path('$.userId'), then: path('$.userId'), else: path('$.anonymousId') }))
t('if else runs directives', cond({ exists: path('$.nope'), then: path('$.userId'), else: path('$.anonymousId') }))
t('if raw exists string', cond({ exists: 'x', then: 'yes' }))
t('if raw exists zero fails at run time', cond({ exists: 0, then: 'yes' }))
t('if raw exists false fails at run time', cond({ exists: false, then: 'yes' }))
t('if raw exists empty string fails at run time', cond({ exists: '', then: 'yes' }))
t('if raw exists null fails at run time', cond({ exists: null, then: 'yes' }))
t('if neither exists nor blank fails at run time', cond({ then: 'yes' }))
t('if raw exists zero with a truthy blank uses exists', cond({ exists: 0, blank: 'x', then: 'yes', else: 'no' }))
t('if exists wins over blank', cond({ exists: path('$.properties.empty'), blank: path('$.properties.empty'), then: 'yes', else: 'no' }))
for (const [label, value] of [
  ['zero', 0], ['false', false], ['empty array', []], ['array of empty string', ['']], ['array of null', [null]],
  ['string zero', '0'], ['space', ' '], ['empty object', {}], ['array of zero', [0]], ['empty string', ''],
  ['null', null], ['true', true], ['nested empty arrays', [[], []]], ['array of two empty strings', ['', '']], ['text', 'x']
]) {
  t(`if blank with ${label}`, cond({ blank: path('$.v'), then: 'filled', else: 'blank' }), { v: value })
}
t('if blank with a missing value', cond({ blank: path('$.v'), then: 'filled', else: 'blank' }), {})
t('if blank with a hole in an array', cond({ blank: { '@literal': [path('$.nope')] }, then: 'filled', else: 'blank' }))
t('if options not an object fails validation', cond(5))
t('if options a directive fails validation', cond(path('$.x')))
t('if options not an object fails at run time inside an array', { a: [{ '@if': 5 }] })
t('if then with an invalid directive fails validation', cond({ exists: path('$.event'), then: { '@nope': 1 } }))
t('if blank with an invalid directive fails validation', cond({ blank: { '@nope': 1 }, then: 1 }))
t('if several bad fields report together', cond({ exists: { '@a': 1 }, then: { '@b': 1 }, else: { '@c': 1 } }))
t('if then plain object with an invalid directive passes validation', cond({ exists: 'x', then: { k: { '@nope': 1 } } }))

// @case
const kase = (options) => field({ '@case': options })
t('case lower', kase({ operator: 'lower', value: path('$.properties.email') }))
t('case upper', kase({ operator: 'upper', value: path('$.properties.email') }))
t('case upper of sharp s', kase({ operator: 'upper', value: path('$.v') }), { v: 'straße' })
t('case lower of dotted capital I and final sigma', kase({ operator: 'lower', value: path('$.v') }), { v: 'İSTANBUL ΟΔΟΣ' })
t('case upper of ligature', kase({ operator: 'upper', value: path('$.v') }), { v: 'ﬁne ǆ' })
t('case number unchanged', kase({ operator: 'upper', value: path('$.properties.revenue') }))
t('case null unchanged', kase({ operator: 'upper', value: path('$.properties.plan') }))
t('case object unchanged', kase({ operator: 'upper', value: path('$.context') }))
t('case missing value gives nothing', kase({ operator: 'upper', value: path('$.nope') }))
t('case empty raw value gives nothing', kase({ operator: 'upper', value: '' }))
t('case raw string value', kase({ operator: 'upper', value: 'abc' }))
t('case without value gives nothing', kase({ operator: 'upper' }))
t('case unknown operator on a string fails', kase({ operator: 'title', value: 'abc' }))
t('case unknown operator on a number passes it through', kase({ operator: 'title', value: path('$.properties.revenue') }))
t('case without operator fails at run time', kase({ value: 'abc' }))
t('case empty operator fails at run time', kase({ operator: '', value: 'abc' }))
t('case operator number fails validation', kase({ operator: 1, value: 'abc' }))
t('case value number fails validation', kase({ operator: 'lower', value: 5 }))
t('case value object fails validation', kase({ operator: 'lower', value: { a: 1 } }))
t('case options not an object fails validation', kase('lower'))
t('case options not an object fails at run time inside an array', { a: [{ '@case': 'lower' }] })
t('case operator number inside an array', { a: [{ '@case': { operator: 1, value: 'abc' } }] })

// @replace
const rep = (options) => field({ '@replace': options })
t('replace every occurrence', rep({ pattern: 'o', replacement: '0', value: path('$.properties.text') }))
t('replace first occurrence only', rep({ pattern: 'o', replacement: '0', global: false, value: path('$.properties.text') }))
t('replace ignoring case', rep({ pattern: 'WORLD', replacement: 'there', ignorecase: true, value: path('$.properties.text') }))
t('replace is case-sensitive by default', rep({ pattern: 'WORLD', replacement: 'there', value: path('$.properties.text') }))
t('replace without replacement deletes', rep({ pattern: 'l', value: path('$.properties.text') }))
t('replace null replacement fails validation', rep({ pattern: 'l', replacement: null, value: 'hello' }))
t('replace treats regexp characters literally', rep({ pattern: '.*', replacement: '!', value: path('$.v') }), { v: 'a.*b.*' })
t('replace treats dollar and pipe literally', rep({ pattern: '$|^', replacement: '_', value: path('$.v') }), { v: 'x$|^y' })
t('replace treats brackets, braces and backslashes literally', rep({ pattern: '[a]{1}\\', replacement: '#', value: path('$.v') }), { v: '[a]{1}\\-' })
t('replace whitespace pattern', rep({ pattern: ' ', replacement: '_', value: path('$.properties.text') }))
t('replace with $& inserts the match', rep({ pattern: 'o', replacement: '[$&]', value: 'foo' }))
t('replace with $` and $\' insert the surroundings', rep({ pattern: 'b', replacement: "<$`|$'>", value: 'abc' }))
t('replace with $$ inserts a dollar', rep({ pattern: 'b', replacement: '$$', value: 'abc' }))
t('replace with $1, $0 and $<x> stay literal', rep({ pattern: 'b', replacement: '$1$0$<x>', value: 'abc' }))
t('replace with a trailing dollar', rep({ pattern: 'b', replacement: 'x$', value: 'abc' }))
t('replace second pass', rep({ pattern: 'a', replacement: 'b', pattern2: 'b', replacement2: 'c', value: 'aab' }))
t('replace second pass without replacement2 deletes', rep({ pattern: 'a', replacement: 'b', pattern2: 'b', value: 'aabx' }))
t('replace second pass ignores case too', rep({ pattern: 'x', pattern2: 'B', replacement2: '-', ignorecase: true, value: 'abcB' }))
t('replace second pass only once without global', rep({ pattern: 'a', replacement: 'b', pattern2: 'b', replacement2: 'c', global: false, value: 'aab' }))
t('replace number value', rep({ pattern: '.', replacement: ',', value: path('$.properties.revenue') }))
t('replace tiny number value uses exponent text', rep({ pattern: 'e', replacement: 'E', value: path('$.properties.tiny') }))
t('replace boolean value', rep({ pattern: 'ru', replacement: 'RU', value: path('$.properties.yes') }))
t('replace null value gives empty string', rep({ pattern: 'a', value: path('$.properties.plan') }))
t('replace missing value gives empty string', rep({ pattern: 'a', value: path('$.nope') }))
t('replace object value gives empty string', rep({ pattern: 'a', value: path('$.context') }))
t('replace empty raw value gives nothing', rep({ pattern: 'a', value: '' }))
t('replace pattern of exactly ten characters', rep({ pattern: '0123456789', replacement: '0123456789', value: 'x0123456789x' }))
t('replace pattern longer than ten fails validation', rep({ pattern: '01234567890', value: 'x' }))
t('replace replacement longer than ten fails validation', rep({ pattern: 'a', replacement: '01234567890', value: 'x' }))
t('replace empty pattern fails validation', rep({ pattern: '', value: 'x' }))
t('replace missing pattern fails validation', rep({ value: 'x' }))
t('replace missing value fails validation', rep({ pattern: 'x' }))
t('replace non-boolean flags fail validation', rep({ pattern: 'x', value: 'x', ignorecase: 'yes', global: 1 }))
t('replace several problems reported together', rep({ pattern: 5, replacement: 6, value: 7, ignorecase: 8, global: 9 }))
t('replace long pattern2 fails at run time', rep({ pattern: 'a', pattern2: '01234567890', value: 'abc' }))
t('replace long replacement2 fails at run time', rep({ pattern: 'a', pattern2: 'b', replacement2: '01234567890', value: 'abc' }))
t('replace long pattern2 is not checked when the value is not text', rep({ pattern: 'a', pattern2: '01234567890', value: path('$.nope') }))
t('replace ignoring case with sharp s and long s', rep({ pattern: 'S', replacement: '_', ignorecase: true, value: path('$.v') }), { v: 'sSßſ' })
t('replace ignoring case with Kelvin sign', rep({ pattern: 'k', replacement: '_', ignorecase: true, value: path('$.v') }), { v: 'kK\u212a' })
t('replace ignoring case with accents', rep({ pattern: 'é', replacement: 'e', ignorecase: true, value: path('$.v') }), { v: 'ÉCOLE école' })
t('replace overlapping matches', rep({ pattern: 'aa', replacement: 'b', value: 'aaaaa' }))
t('replace options not an object fails at run time inside an array', { a: [{ '@replace': 'x' }] })
t('replace without pattern inside an array fails at run time', { a: [{ '@replace': { value: 'x' } }] })
t('replace non-string replacement inside an array gives empty string', { a: [{ '@replace': { pattern: 'x', replacement: 5, value: 'x' } }] })
t('replace long pattern inside an array fails at run time', { a: [{ '@replace': { pattern: '01234567890', value: 'x' } }] })
t('replace number pattern inside an array gives empty string', { a: [{ '@replace': { pattern: 5, value: 'x5' } }] })
t('replace null flags inside an array use defaults', { a: [{ '@replace': { pattern: 'x', replacement: null, ignorecase: null, global: null, value: 'xXx' } }] })

// @arrayPath
const ap = (...options) => field({ '@arrayPath': options })
t('arrayPath with a shape', ap('$.properties.items', { id: path('$.sku'), cost: path('$.price') }))
t('arrayPath shape cannot see the event root', ap('$.properties.items', { id: path('$.sku'), event: path('$.event') }))
t('arrayPath single object becomes a list', ap('$.context.library', { n: path('$.name') }))
t('arrayPath without shape returns the value', ap('$.properties.items'))
t('arrayPath with an empty shape returns the value', ap('$.properties.items', {}))
t('arrayPath string root stays a string', ap('$.event', { x: path('$.a') }))
t('arrayPath number root', ap('$.properties.revenue', { x: path('$.a') }))
t('arrayPath missing root', ap('$.nope', { x: path('$.a') }))
t('arrayPath null root', ap('$.properties.plan', { x: path('$.a') }))
t('arrayPath primitive items', ap('$.v', { v: path('$.'), len: path('$.length') }), { v: [1, 'xy', true, null] })
t('arrayPath null item gives null for every path', ap('$.v', { a: path('$.x'), b: path('$.y.z') }), { v: [null] })
t('arrayPath shape as a directive', ap('$.properties.items', path('$.sku')))
t('arrayPath shape with a template over primitive items', ap('$.v', { t: { '@template': '<{{ }}>' } }), { v: [1, 'a'] })
t('arrayPath nested', ap('$.properties.items', { id: path('$.sku'), tags: { '@arrayPath': ['$.tags', { tag: path('$.') }] } }))
t('arrayPath root from a directive', ap(path('$.properties.items'), { id: path('$.sku') }))
t('arrayPath root from a literal with holes', ap({ '@literal': [path('$.nope'), { a: 1 }] }, { a: path('$.a'), t: { '@template': '[{{ }}]' } }))
t('arrayPath root path without $.', ap('properties.items', { id: path('sku') }))
t('arrayPath root length', ap('$.properties.items.length'))
t('arrayPath shape array', ap('$.properties.items', [path('$.sku')]))
t('arrayPath option not an array fails validation', field({ '@arrayPath': '$.x' }))
t('arrayPath empty fails validation', field({ '@arrayPath': [] }))
t('arrayPath number root fails validation', field({ '@arrayPath': [5] }))
t('arrayPath invalid shape fails validation', ap('$.x', { a: { '@nope': 1 }, b: { '@path': 3 } }))
t('arrayPath shape directive invalid fails validation', ap('$.x', { '@path': 3 }))
t('arrayPath option not an array fails at run time inside an array', { a: [{ '@arrayPath': 'x' }] })
t('arrayPath with extra items ignores them', ap('$.properties.items', { id: path('$.sku') }, 'extra'))

// @json
const js = (options) => field({ '@json': options })
t('json encode an object', js({ mode: 'encode', value: path('$.context') }))
t('json encode puts integer keys first', js({ mode: 'encode', value: path('$.v') }), { v: { b: 1, 2: 'two', a: 3, 1: 'one', '01': 'z' } })
t('json encode numbers', js({ mode: 'encode', value: { '@literal': [1.5e-7, 1e21, 1e20, 0.1, -2.5, 100] } }))
t('json encode unicode and slashes unescaped', js({ mode: 'encode', value: path('$.v') }), { v: 'é/😀"\\\n\t\u0001\u007f\u2028' })
t('json encode holes as null and drops missing keys', js({ mode: 'encode', value: { '@literal': { a: [path('$.nope'), 1], b: path('$.nope'), c: null } } }))
t('json encode a string', js({ mode: 'encode', value: path('$.event') }))
t('json encode null', js({ mode: 'encode', value: path('$.properties.plan') }))
t('json encode missing gives nothing', js({ mode: 'encode', value: path('$.nope') }))
t('json encode raw value', js({ mode: 'encode', value: { a: 1 } }))
t('json encode raw true', js({ mode: 'encode', value: true }))
t('json encode a lone surrogate', js({ mode: 'encode', value: path('$.properties.emoji.0') }))
t('json decode an object', js({ mode: 'decode', value: path('$.v') }), { v: '{"a":[1,2.5,{"b":null}],"c":"d"}' })
t('json decode with whitespace', js({ mode: 'decode', value: path('$.v') }), { v: ' \n{ "a" : 1 }\t' })
t('json decode a string literal', js({ mode: 'decode', value: path('$.v') }), { v: '"text"' })
t('json decode a number', js({ mode: 'decode', value: path('$.v') }), { v: '-12.5e2' })
t('json decode invalid text returns it', js({ mode: 'decode', value: path('$.v') }), { v: '{bad json' })
t('json decode NaN is not JSON', js({ mode: 'decode', value: path('$.v') }), { v: 'NaN' })
t('json decode Infinity is not JSON', js({ mode: 'decode', value: path('$.v') }), { v: '-Infinity' })
t('json decode single quotes are not JSON', js({ mode: 'decode', value: path('$.v') }), { v: "{'a':1}" })
t('json decode trailing comma is not JSON', js({ mode: 'decode', value: path('$.v') }), { v: '[1,]' })
t('json decode empty string returns it', js({ mode: 'decode', value: path('$.properties.empty') }))
t('json decode duplicate keys keep the last', js({ mode: 'decode', value: path('$.v') }), { v: '{"a":1,"b":2,"a":3}' })
t('json decode non-string passes through', js({ mode: 'decode', value: path('$.context') }))
t('json decode missing gives nothing', js({ mode: 'decode', value: path('$.nope') }))
t('json decode raw string', js({ mode: 'decode', value: '[1,"2"]' }))
t('json mode in capitals validates but gives nothing', js({ mode: 'ENCODE', value: path('$.event') }))
t('json unknown mode fails validation', js({ mode: 'pretty', value: path('$.event') }))
t('json mode number fails validation', js({ mode: 1, value: path('$.event') }))
t('json missing mode fails validation', js({ value: path('$.event') }))
t('json missing value fails validation', js({ mode: 'encode' }))
t('json missing both reports both', js({}))
t('json raw null value fails at run time', js({ mode: 'encode', value: null }))
t('json raw zero value fails at run time', js({ mode: 'encode', value: 0 }))
t('json raw empty string value fails at run time', js({ mode: 'decode', value: '' }))
t('json empty mode inside an array fails at run time', { a: [{ '@json': { mode: '', value: 1 } }] })
t('json options not an object fails at run time inside an array', { a: [{ '@json': 1 }] })
t('json unknown mode inside an array still resolves the value', { a: [{ '@json': { mode: 'x', value: { '@path': 5 } } }] })

// @flatten
const fl = (options) => field({ '@flatten': options })
t('flatten an object', fl({ value: path('$.context'), separator: '.' }))
t('flatten with arrays', fl({ value: path('$.properties.items'), separator: '_' }))
t('flatten omitting arrays', fl({ value: path('$.properties.nested'), separator: '/', omitArrays: true }))
t('flatten empty containers vanish', fl({ value: path('$.v'), separator: '.' }), { v: { a: {}, b: [], c: { d: [] }, e: 1 } })
t('flatten empty array kept when omitting arrays', fl({ value: path('$.v'), separator: '.', omitArrays: true }), { v: { b: [], e: 1 } })
t('flatten a string', fl({ value: path('$.event'), separator: '.' }))
t('flatten null', fl({ value: path('$.properties.plan'), separator: '.' }))
t('flatten missing', fl({ value: path('$.nope'), separator: '.' }))
t('flatten a number', fl({ value: 5, separator: '.' }))
t('flatten a top-level array', fl({ value: path('$.properties.numbers'), separator: '.' }))
t('flatten a top-level array omitting arrays', fl({ value: path('$.properties.numbers'), separator: '.', omitArrays: true }))
t('flatten keys that collide', fl({ value: path('$.v'), separator: '.' }), { v: { 'a.b': 1, a: { b: 2, c: 3 } } })
t('flatten collision with integer keys', fl({ value: path('$.v'), separator: '.' }), { v: { '1.2': 'text', 1: { 2: 'nested' } } })
t('flatten empty key', fl({ value: path('$.v'), separator: '-' }), { v: { '': { a: 1 }, b: { '': 2 } } })
t('flatten multi-character separator', fl({ value: path('$.context'), separator: '::' }))
t('flatten separator from a directive', fl({ value: path('$.context'), separator: path('$.sep') }), { sep: '+', context: { a: { b: 1 } } })
t('flatten separator directive resolving to a number', fl({ value: path('$.context'), separator: path('$.sep') }), { sep: 7, context: {} })
t('flatten missing separator fails at run time', fl({ value: path('$.context') }))
t('flatten empty separator fails at run time', fl({ value: path('$.context'), separator: '' }))
t('flatten number separator fails validation', fl({ value: path('$.context'), separator: 1 }))
t('flatten missing value fails validation', fl({ separator: '.' }))
t('flatten raw object value with directives', fl({ value: { a: path('$.event'), b: { c: path('$.userId') } }, separator: '.' }))
t('flatten hole values', fl({ value: { '@literal': { a: [path('$.nope'), 2] } }, separator: '.' }))
t('flatten nested missing value erases a collision', fl({ value: { '@literal': { 'a.b': 1, a: { b: path('$.nope') } } }, separator: '.' }))
t('flatten options not an object fails at run time inside an array', { a: [{ '@flatten': 1 }] })

// @merge
const mg = (options) => field({ '@merge': options })
t('merge right: last wins', mg({ direction: 'right', objects: [{ a: 1, b: 1 }, { b: 2, c: 2 }] }))
t('merge left: first wins', mg({ direction: 'left', objects: [{ a: 1, b: 1 }, { b: 2, c: 2 }] }))
t('merge with paths', mg({ direction: 'right', objects: [path('$.context'), path('$.traits')] }))
t('merge skips missing, null, numbers and booleans', mg({ direction: 'right', objects: [path('$.nope'), path('$.properties.plan'), { a: 1 }, path('$.properties.revenue'), path('$.properties.yes')] }))
t('merge spreads a string', mg({ direction: 'right', objects: [path('$.event'), { x: 1 }] }))
t('merge spreads an array', mg({ direction: 'right', objects: [path('$.properties.numbers'), { 0: 'zero' }] }))
t('merge later missing value erases an earlier one', mg({ direction: 'right', objects: [{ a: 'default' }, { a: path('$.nope') }] }))
t('merge left with missing value', mg({ direction: 'left', objects: [{ a: path('$.nope') }, { a: 'default' }] }))
t('merge direction in capitals acts as right', mg({ direction: 'LEFT', objects: [{ a: 1 }, { a: 2 }] }))
t('merge empty list', mg({ direction: 'left', objects: [] }))
t('merge array with holes', mg({ direction: 'right', objects: [{ '@literal': [path('$.nope'), 'b'] }] }))
t('merge missing direction fails at run time', mg({ objects: [{ a: 1 }] }))
t('merge unknown direction fails validation', mg({ direction: 'up', objects: [{ a: 1 }] }))
t('merge direction number fails validation', mg({ direction: 1, objects: [{ a: 1 }] }))
t('merge missing objects fails validation', mg({ direction: 'left' }))
t('merge objects not an array fails validation', mg({ direction: 'left', objects: { a: 1 } }))
t('merge entry check starts at the root path', mg({ direction: 'left', objects: [{ a: 1 }, 5, 'x'] }))
t('merge entry that is an invalid directive', mg({ direction: 'left', objects: [{ '@nope': 1 }] }))
t('merge entry object with an invalid directive', mg({ direction: 'left', objects: [{ k: { '@path': 1 } }] }))
t('merge field errors come before entry checks', mg({ direction: 'up', objects: [5] }))
t('merge objects string fails at run time inside an array', { a: [{ '@merge': { direction: 'left', objects: 'abc' } }] })
t('merge objects object fails at run time inside an array', { a: [{ '@merge': { direction: 'left', objects: { a: 1 } } }] })
t('merge objects missing fails at run time inside an array', { a: [{ '@merge': { direction: 'left' } }] })
t('merge direction resolved before the objects check', { a: [{ '@merge': { direction: { '@path': 5 } } }] })
t('merge options not an object fails at run time inside an array', { a: [{ '@merge': [] }] })
t('merge direction directive inside an array', { a: [{ '@merge': { direction: { '@literal': 'left' }, objects: [{ a: 1 }, { a: 2 }] } }] })

// @transform
const tr = (options) => field({ '@transform': options })
t('transform two stages', tr({ apply: { who: path('$.userId'), n: path('$.properties.revenue') }, mapping: { user: path('$.who'), label: { '@template': '{{who}}:{{n}}' } } }))
t('transform second stage cannot see the event', tr({ apply: { who: path('$.userId') }, mapping: { event: path('$.event') } }))
t('transform nested', tr({ apply: { a: tr({ apply: { b: path('$.event') }, mapping: { c: path('$.b') } }) }, mapping: { d: path('$.a.out.c') } }))
t('transform apply directive', tr({ apply: path('$.context'), mapping: { ip: path('$.ip') } }))
t('transform apply directive giving a string', tr({ apply: path('$.event'), mapping: { len: path('$.length') } }))
t('transform mapping directive', tr({ apply: { a: 1 }, mapping: path('$.a') }))
t('transform first stage keeps holes', tr({ apply: { list: [path('$.nope'), 1] }, mapping: { first: path('$.list.0'), all: path('$.list') } }))
t('transform missing apply fails validation', tr({ mapping: { a: 1 } }))
t('transform missing mapping fails validation', tr({ apply: { a: 1 } }))
t('transform apply array fails validation', tr({ apply: [1], mapping: { a: 1 } }))
t('transform apply with an invalid directive fails validation', tr({ apply: { a: { '@nope': 1 } }, mapping: { a: 1 } }))
t('transform apply array fails at run time inside an array', { a: [{ '@transform': { apply: [1], mapping: { a: 1 } } }] })
t('transform apply invalid fails at run time inside an array', { a: [{ '@transform': { apply: { a: { '@nope': 1 } }, mapping: { a: 1 } } }] })
t('transform missing mapping fails at run time inside an array', { a: [{ '@transform': { apply: { a: 1 } } }] })
t('transform missing apply fails at run time inside an array', { a: [{ '@transform': { mapping: { a: 1 } } }] })
t('transform options not an object fails at run time inside an array', { a: [{ '@transform': 1 }] })
t('transform over primitive arrayPath items fails', ap('$.properties.numbers', { x: tr({ apply: { a: path('$.') }, mapping: path('$.a') }) }))
t('transform over a missing arrayPath item uses an empty object', ap({ '@literal': [path('$.nope')] }, { x: tr({ apply: { a: { '@template': '{{ }}' } }, mapping: path('$.a') }) }))
t('transform apply with a root internal directive', tr({ apply: { [ROOT_KEY]: { '@transform': { apply: { w: path('$.userId') } } }, v: path('$.w') }, mapping: path('$.v') }))

// @excludeWhenNull
const ex = (value) => field({ '@excludeWhenNull': value })
t('excludeWhenNull drops null', ex(path('$.properties.plan')))
t('excludeWhenNull keeps zero and empty string', { a: { '@excludeWhenNull': path('$.properties.zero') }, b: { '@excludeWhenNull': path('$.properties.empty') } })
t('excludeWhenNull cleans objects recursively but not arrays', ex(path('$.v')), { v: { a: null, b: { c: null, d: 1, e: {} }, f: [null, { g: null }], h: 0 } })
t('excludeWhenNull missing stays missing', ex(path('$.nope')))
t('excludeWhenNull top-level array untouched', ex(path('$.properties.mixed')))
t('excludeWhenNull raw null', ex(null))
t('excludeWhenNull raw object with directives', ex({ a: path('$.properties.plan'), b: path('$.event') }))
t('excludeWhenNull invalid nested directive fails validation', ex({ '@nope': 1 }))

// @liquid
const lq = (template, data = EVENT, extra = {}) => t(`liquid ${JSON.stringify(template).slice(0, 60)}${template.length > 50 ? ` (${template.length} units)` : ""}`, field({ '@liquid': template }), data, extra)
const LIQUID_SCOPE = {
  x: [3, 1, 2], s: 'Hello World', n: 10, f: 2.5, o: { a: 1, b: [1, 2] }, t: true, z: 0, e: '', nul: null,
  neg: -3.7, big: 1e21, tiny: 1.5e-7, arr2: ['a', 'b'], nested: [1, [2, 3], null, 'x'], date: '2024-05-01T12:34:56Z',
  html: '<p>Hi &amp; "bye"</p>', words: 'one two  three', obj: { k: 'v' }, num_text: '42', space: '  pad  ',
  counted: { length: 2, 0: 'zero', 1: 'one' }, emoji: '😀a', no: false, rows: [{ v: 1 }, { v: '2' }, { v: 'x' }, {}]
}
for (const template of [
  '{{ s }}', '{{ s | upcase }}', '{{ s | downcase }}', '{{ s | capitalize }}', "{{ 'hELLO wORLD' | capitalize }}",
  '{{ n | plus: 1 }}', '{{ n | minus: 10.0 }}', '{{ f | times: 2 }}', '{{ f | times: 4 }}', '{{ n | divided_by: 4 }}', '{{ n | divided_by: 0 }}',
  '{{ n | modulo: 3 }}', '{{ 7.5 | modulo: 2 }}', '{{ neg | modulo: 3 }}', '{{ neg | round }}', '{{ neg | abs }}', '{{ f | ceil }}', '{{ f | floor }}',
  '{{ 3.14159 | round: 2 }}', '{{ 2.5 | round }}', '{{ n | at_least: 20 }}', '{{ n | at_most: 5 }}', '{{ 0.1 | plus: 0.2 }}',
  "{{ 'abc' | plus: 1 }}", "{{ 5 | times: 'x' }}", '{{ num_text | plus: 1 }}', '{{ missing | plus: 1 }}', '{{ t | plus: 1 }}',
  '{{ s | size }}', '{{ x | size }}', '{{ x | first }}', '{{ x | last }}', "{{ x | join: '-' }}", "{{ s | split: ' ' | join: '|' }}",
  "{{ s | replace: 'o', '0' }}", "{{ s | replace_first: 'o', '0' }}", "{{ s | remove: 'l' }}", '{{ s | truncate: 5 }}',
  '{{ s | truncatewords: 1 }}', '{{ s | slice: 1, 3 }}', '{{ s | slice: -3 }}', "{{ '  a b  ' | strip }}|{{ '  a ' | lstrip }}|{{ ' a  ' | rstrip }}",
  '{{ s | append: n }}', '{{ s | prepend: f }}', '{{ s | append: tiny }}', '{{ s | append: t }}', '{{ t | append: s }}', '{{ f | append: s }}',
  "{{ nul | default: 'd' }}", "{{ e | default: 'd' }}", "{{ z | default: 'd' }}", "{{ t | default: 'd' }}", "{{ missing | default: 'd' }}",
  '{{ o }}', '{{ x }}', '{{ t }}', '{{ nul }}', '{{ big }}', '{{ tiny }}', '{{ 1.0 }}', '{{ nested }}', '{{ missing }}', '{{ missing.deep }}',
  '{{ o | json }}', '{{ x | json }}', '{{ s | json }}', '{{ missing | json }}', '{{ nested | json }}', '{{ o | jsonify }}',
  '{{ s | url_encode }}', "{{ 'a b&c/é' | url_encode }}", '{{ html | escape }}', '{{ html | escape_once }}', '{{ html | strip_html }}',
  "{{ date | date: '%Y-%m-%d' }}", '{{ s | base64_encode }}', '{{ x | sum }}', '{{ x | compact | size }}', '{{ -0.0 }}',
  '{% if n > 5 %}big{% else %}small{% endif %}', '{% unless t %}no{% endunless %}yes', "{% if s contains 'World' %}c{% endif %}",
  '{% capture c %}{{ s }}!{% endcapture %}{{ c }}', '{% raw %}{{ s }}{% endraw %}', '{% comment %}x{% endcomment %}y',
  "{% assign a = 'x' %}{{ a }}", '{% increment c %}{% increment c %}', '{% echo s %}', '{% echo f | times: 2 %}', '{% liquid\n echo s\n %}',
  '{{ x[0] }}{{ x.size }}{{ x.first }}', "{{ o.a }}{{ o['a'] }}", '{% if e %}e{% else %}not e{% endif %}', '{% if z %}z{% endif %}',
  '{% if nul == nil %}nil{% endif %}', '{% if missing %}m{% else %}no m{% endif %}', '{{ n | upcase }}', '{{ t | upcase }}', '{{ f | upcase }}',
  '{{ words | split: " " | size }}', '{{ space | strip | size }}', "{{ s | sha256 }}", "{{ num_text | to_integer | plus: 1 }}",
  '{{ s | unknown_filter }}', "{{ s | escapejs }}", '{{ obj.k | append: "!" }}', '{{ s | truncate: 3, "" }}',
  '{% if x.size == 3 and t %}both{% endif %}', '{% if n >= 10 or z %}either{% endif %}', '{{ o.b[1] }}', '{{ o.b.last }}',
  "{% assign parts = 'a,b,c' | split: ',' %}{{ parts[1] }}{{ parts.size }}", '{{ s | remove_first: "l" | remove_last: "l" }}'
]) lq(template, LIQUID_SCOPE)
for (const template of [
  "{{ t | join: ',' }}", "{{ nested | join: '-' }}", '{{ x | join }}', '{{ s | first }}|{{ s | last }}', '{{ o | first }}|{{ e | first }}',
  '{{ counted | first }}|{{ counted | last }}', '{{ o | size }}|{{ counted | size }}|{{ n | size }}|{{ emoji | size }}', "{{ obj | default: 'd' }}",
  "{{ no | default: 'd' }}|{{ no | default: 'd', allow_false: true }}", '{{ s | slice: -5, 3 }}|{{ x | slice: 1, 5 | join }}|{{ s | slice: 20 }}|{{ s | slice: 1, -1 }}',
  '{{ t | truncate: 4 }}|{{ t | truncate: 3 }}|{{ s | truncate: 2 }}', "{{ words | truncatewords: 2 }}|{{ words | truncatewords: 0, '!' }}|{{ space | truncatewords: 1 }}",
  "{{ rows | sum: 'v' }}|{{ rows | sum }}|{{ x | sum }}", '{{ num_text | to_integer }}|{{ s | to_integer }}|{{ nul | to_integer }}', '{{ emoji | split: "" | join: "" }}',
  '{{ emoji | slice: 0, 1 }}{{ emoji | slice: 1, 1 }}', "{{ nested | first | plus: 1 }}", '{{ x | join: nul }}', '{{ html | xml_escape }}'
]) lq(template, LIQUID_SCOPE)
lq('{% assign a = s %}' + '{% assign a = a | append: a %}'.repeat(23) + '{{ a | size }}', LIQUID_SCOPE)
lq('{% assign a = s %}' + '{% assign a = a | prepend: a %}'.repeat(10) + '{{ a | size }}', LIQUID_SCOPE)
lq('{{ 1 | round: 1000000000 }}|{{ 2.555 | round: 2 }}|{{ 999999999 ' + '| times: 999999999 '.repeat(40) + '}}', LIQUID_SCOPE)
lq('', LIQUID_SCOPE)
lq('{{ properties.email | downcase }} bought {{ properties.items[0].sku }}')
lq('{% for i in x %}{{ i }}{% endfor %}', LIQUID_SCOPE)
lq('ab\ncd {% case n %}{% when 1 %}one{% endcase %}', LIQUID_SCOPE)
lq('x {% include "p" %}', LIQUID_SCOPE)
lq('{% render "p" %}', LIQUID_SCOPE)
lq('{% tablerow i in x %}{{ i }}{% endtablerow %}', LIQUID_SCOPE)
lq('{% layout "p" %}', LIQUID_SCOPE)
for (const filter of ['reverse', 'sort', 'map', 'uniq', 'concat', 'newline_to_br', 'where_exp', 'sort_natural', 'array_to_sentence_string', 'type', 'find', 'has']) {
  lq(`x {{ s }}\n  {{ x | ${filter} }}`, LIQUID_SCOPE)
}
lq('{% if false %}{{ x | reverse }}{% endif %}ok', LIQUID_SCOPE)
lq('{% assign y = x | sort %}{{ y }}', LIQUID_SCOPE)
lq('a'.repeat(1000), LIQUID_SCOPE)
lq('{{ s }}' + 'a'.repeat(994), LIQUID_SCOPE)
lq('{{ s }}' + 'a'.repeat(995), LIQUID_SCOPE)
lq('😀'.repeat(500), LIQUID_SCOPE)
lq('😀'.repeat(501), LIQUID_SCOPE)
lq('{{ s', LIQUID_SCOPE, { deviation: 'python-liquid words its syntax errors differently', ours: { error: ["expected '}}', found end of file, line:1, col:1"] } })
lq('{% if %}', LIQUID_SCOPE, { deviation: 'python-liquid words its syntax errors differently', ours: { error: ['missing expression, line:1, col:1'] } })
lq('{% endif %}', LIQUID_SCOPE, { deviation: 'python-liquid words its syntax errors differently', ours: { error: ["unexpected tag 'endif', line:1, col:1"] } })
const JS_COMPARISON = 'python-liquid refuses to order or search values of different types; liquidjs compares them the JavaScript way'
const JS_MEMBERS = 'python-liquid does not read JavaScript members of strings and arrays (s[0], .length)'
lq('{% if num_text > 5 %}gt{% else %}not gt{% endif %}', LIQUID_SCOPE, {
  deviation: JS_COMPARISON, ours: { error: ["'<' and '>' are not supported between 'int' and 'str', line:1, col:1"] }
})
lq('{% if o > 1 %}gt{% else %}not gt{% endif %}', LIQUID_SCOPE, {
  deviation: JS_COMPARISON, ours: { error: ["'<' and '>' are not supported between 'int' and 'dict', line:1, col:1"] }
})
lq("{% if n contains '1' %}c{% else %}no{% endif %}", LIQUID_SCOPE, {
  deviation: JS_COMPARISON, ours: { error: ["'in' and 'contains' are not supported between 'int' and 'str', line:1, col:1"] }
})
lq('{{ s[0] }}|{{ s.first }}|{{ s.last }}|{{ s.size }}', LIQUID_SCOPE, { deviation: JS_MEMBERS, ours: { expected: { out: '|||11' } } })
lq('{{ x[-1] }}|{{ s.length }}|{{ x.length }}', LIQUID_SCOPE, { deviation: JS_MEMBERS, ours: { expected: { out: '2||' } } })
lq('{{ emoji.size }}|{{ emoji | size }}', LIQUID_SCOPE, {
  deviation: 'python-liquid counts code points for .size; liquidjs counts UTF-16 units (the size filter agrees)',
  ours: { expected: { out: '2|3' } }
})
lq("{{ mixed_items | compact | join: '-' }}", { mixed_items: [[], null, '[1,2]', true, 0, ''] })
lq('{% if o == blank %}blank{% else %}not blank{% endif %}{% if e == empty %}empty{% endif %}', LIQUID_SCOPE)
t('liquid number option fails validation', field({ '@liquid': 5 }))
t('liquid number option fails at run time inside an array', { a: [{ '@liquid': 5 }] })
t('liquid over a primitive arrayPath item', ap('$.v', { l: { '@liquid': '[{{ a }}]' } }), { v: [1] })

// 1.5 validator
t('validator collects errors from several keys', {
  a: { '@bad': 1 },
  b: { c: { '@path': 1 }, d: { '@if': 1 } },
  e: { '@path': '$.x', '@template': 'y' },
  f: { '@path': '$.x', extra: 1, _metadata: {} }
})
t('validator reports integer keys first', { b: { '@nope': 1 }, 1: { '@nope': 2 } })
t('validator counts @ keys', { a: { '@path': 'x', '@template': 'y', '@literal': 1 } })
t('validator counts every key when an @ key sits with others', { a: { '@path': 'x', b: 1, c: 2 } })
t('validator ignores array elements', { a: [{ '@oops': 1 }, { '@path': 5 }] })
t('validator passes _metadata', { a: { '@literal': 1, _metadata: { x: { '@bad': 1 } } } })
t('validator nested directive paths', { a: { '@if': { exists: { '@case': { operator: 'x', value: { '@json': { mode: 'x', value: 1 } } } } } } })
t('validator stops at a failing options object', { a: { '@if': { then: { '@bad': 1 }, else: { '@path': 3 }, other: { '@nope': 1 } } } })
t('validator options given as a directive', { a: { '@json': { '@path': 'x' } } })
t('validator options given as an array', { a: { '@json': [1] } })
t('validator options given as null', { a: { '@flatten': null } })
t('validator options given as a string', { a: { '@merge': 'x' } })
t('validator on an array root directive option', { a: { '@arrayPath': { '@path': 'x' } } })
t('validator article before vowels', { a: { '@case': { operator: [], value: 'x' } }, b: { '@case': { operator: {}, value: 'x' } } })
t('validator deep object path', { a: { b: { c: { d: { '@template': false } } } } })
t('validator one-of message quotes the value', { a: { '@json': { mode: 'Enc"ode', value: 1 } } })
t('validator key with a slash in the path', { 'a/b': { '@path': 1 } })
t('validator field order for replace', { a: { '@replace': { global: 1, ignorecase: 2, value: 3, replacement: 4 } } })

// 1.9 getFieldValueKeys
keys('value keys of a path', path('$.properties.email'))
keys('value keys of a template', { '@template': '{{ a }} and {{b.c}} {{}} {{ }}' })
keys('value keys of a template with a newline', { '@template': '{{a\n}} {{b}}' })
keys('value keys of a liquid template', { '@liquid': "{{ a.b }} {{ c[0].d }} {% if h %}{{ i | default: j.k }}{% endif %} {% assign z = m.n %}{{ z.w }} {{ a.b }}" })
keys('value keys of a liquid template with quoted keys', { '@liquid': "{{ e['f g'] }} {{ e[\"h\"] }} {{ x['y'] }}" })
keys('value keys of an arrayPath', { '@arrayPath': ['$.items', { id: path('$.sku'), n: { '@template': '{{x}}' } }] })
keys('value keys of an arrayPath root directive', { '@arrayPath': [path('$.items'), { id: path('$.sku') }] })
keys('value keys of a case', { '@case': { operator: 'lower', value: path('$.a') } })
keys('value keys of a case without operator', { '@case': { value: path('$.a') } })
keys('value keys of a replace', { '@replace': { pattern: 'x', value: path('$.a') } })
keys('value keys of a json', { '@json': { mode: 'encode', value: { a: path('$.a'), b: [path('$.b')] } } })
keys('value keys of a flatten', { '@flatten': { separator: '.', value: path('$.a') } })
keys('value keys of a merge', { '@merge': { direction: 'left', objects: [path('$.a'), path('$.b')] } })
keys('value keys of a transform', { '@transform': { apply: { a: path('$.a') }, mapping: { b: path('$.b') } } })
keys('value keys of an if', { '@if': { exists: path('$.a'), then: path('$.b'), else: { '@template': '{{c}}' }, blank: path('$.d') } })
keys('value keys of an if without a condition', { '@if': { then: path('$.b') } })
keys('value keys of a literal', { '@literal': path('$.a') })
keys('value keys of excludeWhenNull', { '@excludeWhenNull': path('$.a') })
keys('value keys of a plain object', { a: path('$.a'), b: { c: { '@template': '{{d}}' } }, e: 'raw', f: [path('$.f')] })
keys('value keys drop empty paths', { a: path(''), b: path('$.b') })
keys('value keys of a raw value', 'text')
keys('value keys of an array', [path('$.a'), { '@template': '{{b}}' }])
keys('value keys with several directive keys', { '@path': '$.a', '@template': '{{b}}' })
keys('value keys of a directive with other keys', { '@path': '$.a', other: path('$.b') })
keys('value keys of a directive-shaped @path option', { '@path': path('$.inner') }, {
  deviation: 'Segment returns the option object itself in a list of strings; Ferry lists the paths inside it',
  ours: { expected: ['$.inner'] }
})
keys('value keys of a directive-shaped @template option', { '@template': path('$.inner') }, {
  deviation: 'Segment throws a TypeError (input.matchAll is not a function); Ferry lists the paths inside it',
  ours: { expected: ['$.inner'] }
})
keys('value keys of an unknown directive', { '@nope': path('$.a') })
keys('value keys of a disabled liquid tag', { '@liquid': '{% for a in b %}{% endfor %}' })

// --- seeded random cases --------------------------------------------------------------------

function mulberry32(seed) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const random = mulberry32(RANDOM_SEED)
const pick = (list) => list[Math.floor(random() * list.length)]
const chance = (p) => random() < p
const upTo = (n) => Math.floor(random() * (n + 1))

const KEYS = ['a', 'b', 'c', 'name', 'email', 'items', 'n', 's', '0', '1', '10', 'x y', '$', 'length', 'Tag', 'ö']
const STRINGS = ['', ' ', '0', 'Hello', 'hello world', 'ÄßÖ', 'İi', '{{a}}', '{{{b}}}', 'a.b', 'x,y', '😀', '"quoted"', 'null', 'true', '[1,2]', '{"k":1}', 'MiXeD', 'tab\tnew\nline']
const NUMBERS = [0, 1, -1, 2.5, -3.25, 100, 1e21, 1e20, 1.5e-7, 0.000001, 0.1, 123456.789, 42]

function randomLeaf() {
  switch (upTo(5)) {
    case 0: case 1: return pick(STRINGS)
    case 2: return pick(NUMBERS)
    case 3: return chance(0.5)
    case 4: return null
    default: return pick(STRINGS)
  }
}

function randomValue(depth) {
  if (depth <= 0 || chance(0.45)) return randomLeaf()
  if (chance(0.35)) return Array.from({ length: upTo(3) }, () => randomValue(depth - 1))
  const obj = {}
  for (let i = upTo(4); i > 0; i--) obj[pick(KEYS)] = randomValue(depth - 1)
  return obj
}

function randomEvent() {
  const event = { type: 'track', event: pick(['Order Completed', 'Signed Up', '']), userId: pick(['u1', null, '']) }
  for (let i = 2 + upTo(4); i > 0; i--) event[pick(KEYS)] = randomValue(3)
  return event
}

function pathsOf(value, prefix, out) {
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const step = /^[0-9]+$/.test(key) && Array.isArray(value) ? `${prefix}[${key}]` : prefix ? `${prefix}.${key}` : key
      out.push(step)
      pathsOf(item, step, out)
    }
  }
  return out
}

function randomPath(event) {
  const known = pathsOf(event, '', [])
  let base
  if (known.length && chance(0.7)) base = pick(known)
  else base = pick(['nope', 'a.b.c', 'items[0]', "a['x y']", 'n.length', 's.0', '', '.', 'a[b]', '0', 'missing.deep'])
  if (chance(0.15)) base = `${base}.length`
  return chance(0.6) ? `$.${base}` : base
}

const LIQUID_POOL = [
  (p) => `{{ ${p} }}`,
  (p) => `{{ ${p} | upcase }}`,
  (p) => `{{ ${p} | default: 'none' }}`,
  (p) => `{{ ${p} | size }}`,
  (p) => `{{ ${p} | plus: 1 }}`,
  (p) => `{{ ${p} | append: '!' }}`,
  (p) => `{% if ${p} %}yes{% else %}no{% endif %}`,
  (p) => `{{ ${p} | json }}`,
  (p) => `[{{ ${p} | times: 2 }}]`,
  (p) => `{{ ${p} | downcase }}|{{ ${p} | capitalize }}`,
  (p) => `{{ ${p} | first }}|{{ ${p} | last }}`,
  (p) => `{{ ${p} | join: ',' }}`,
  (p) => `{{ ${p} | split: 'l' | size }}`,
  (p) => `{{ ${p} | round: 1 }}|{{ ${p} | divided_by: 3 }}|{{ ${p} | minus: 0.5 }}|{{ ${p} | modulo: 2 }}`,
  (p) => `{{ ${p} | abs }}|{{ ${p} | ceil }}|{{ ${p} | floor }}|{{ ${p} | at_least: 1 }}|{{ ${p} | at_most: 1 }}`,
  (p) => `{{ ${p} | truncate: 4 }}|{{ ${p} | slice: 1, 2 }}|{{ ${p} | strip }}`,
  (p) => `{{ ${p} | escape }}|{{ ${p} | url_encode }}|{{ ${p} | replace: 'l', 'L' }}`,
  (p) => `{% if ${p} == 'Hello' %}eq{% elsif ${p} == 1 %}one{% else %}other{% endif %}`,
  (p) => `{{ ${p}.size }}`,
  (p) => `{{ ${p} | compact | join: '-' }}|{{ ${p} | sum }}`,
  (p) => `{% unless ${p} %}u{% endunless %}{{ ${p} | upcase | append: ${p} }}`,
  (p) => `{% assign v = ${p} | default: 'd' %}{% capture c %}<{{ v }}>{% endcapture %}{{ c | size }}{{ c }}`,
  (p) => `{{ ${p} | truncatewords: 1 }}|{{ ${p} | slice: -2, 5 }}|{{ ${p} | truncate: 2, '' }}`
]

function liquidPath(event) {
  const candidates = pathsOf(event, '', []).filter((p) => /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(p))
  return candidates.length && chance(0.8) ? pick(candidates) : 'nothing.here'
}

function randomDirective(event, depth) {
  const nested = () => randomNode(event, depth - 1)
  const stringish = () => (chance(0.8) || depth <= 0 ? randomPath(event) : { '@path': randomPath(event) })
  switch (pick(['path', 'path', 'path', 'template', 'literal', 'if', 'case', 'replace', 'arrayPath', 'json', 'flatten', 'merge', 'transform', 'exclude', 'liquid', 'broken'])) {
    case 'path':
      return { '@path': chance(0.9) ? randomPath(event) : { '@template': `${randomPath(event).slice(0, 4)}{{${randomPath(event)}}}` } }
    case 'template': {
      const parts = Array.from({ length: 1 + upTo(2) }, () => `${pick(['', 'x', ' - '])}{{${chance(0.2) ? '{' : ''}${randomPath(event).replace('$.', '')}${chance(0.2) ? '}' : ''}}}`)
      return { '@template': parts.join(pick(['', ' ', '|'])) }
    }
    case 'literal':
      return { '@literal': chance(0.5) ? randomValue(2) : nested() }
    case 'if': {
      const options = {}
      options[chance(0.6) ? 'exists' : 'blank'] = chance(0.85) ? { '@path': randomPath(event) } : randomLeaf()
      if (chance(0.8)) options.then = nested()
      if (chance(0.6)) options.else = nested()
      return { '@if': options }
    }
    case 'case':
      return { '@case': { operator: pick(['lower', 'upper', 'upper', 'lower', 'title']), value: { '@path': randomPath(event) } } }
    case 'replace': {
      const options = { pattern: pick(['a', 'o', ' ', '.', 'L', '$', 'll', '0', 'e']), value: stringish() }
      if (chance(0.7)) options.replacement = pick(['', '_', '$&$&', 'X', '[$`]'])
      if (chance(0.3)) options.ignorecase = chance(0.5)
      if (chance(0.3)) options.global = chance(0.5)
      if (chance(0.2)) options.pattern2 = pick(['_', 'X', 'h'])
      return { '@replace': options }
    }
    case 'arrayPath': {
      const shape = {}
      for (let i = upTo(2); i > 0; i--) shape[pick(KEYS)] = chance(0.7) ? { '@path': pick(['$.', '$.a', 'name', '$.0', '$.length', 'b.c']) } : { '@template': '<{{a}}>' }
      return { '@arrayPath': chance(0.2) ? [randomPath(event)] : [randomPath(event), shape] }
    }
    case 'json':
      return { '@json': { mode: pick(['encode', 'decode', 'encode', 'Encode']), value: chance(0.8) ? { '@path': randomPath(event) } : nested() } }
    case 'flatten':
      return { '@flatten': { value: { '@path': randomPath(event) }, separator: pick(['.', '_', '::']), ...(chance(0.3) ? { omitArrays: true } : {}) } }
    case 'merge':
      return {
        '@merge': {
          direction: pick(['left', 'right']),
          objects: Array.from({ length: 1 + upTo(2) }, () => (chance(0.6) ? { '@path': randomPath(event) } : randomObjectMapping(event, depth - 1)))
        }
      }
    case 'transform':
      return { '@transform': { apply: randomObjectMapping(event, depth - 1), mapping: { r: { '@path': pick(['$.f0', '$.f1', '$.f0.a', '$.']) } } } }
    case 'exclude':
      return { '@excludeWhenNull': chance(0.7) ? { '@path': randomPath(event) } : nested() }
    case 'liquid':
      return { '@liquid': pick(LIQUID_POOL)(liquidPath(event)) }
    default:
      return pick([
        { '@nope': 1 },
        { '@path': 3 },
        { '@if': { then: 1 } },
        { '@json': { mode: 'encode', value: null } },
        { '@flatten': { value: 1 } },
        { '@merge': { objects: [] } },
        { '@case': { value: 'x' } },
        { '@replace': { pattern: 'abcdefghijk', value: 'x' } },
        { '@path': '$.a', '@template': 'b' },
        { '@template': '{{a}}', extra: 1 }
      ])
  }
}

function randomNode(event, depth) {
  if (depth <= 0 || chance(0.25)) return chance(0.5) ? { '@path': randomPath(event) } : randomLeaf()
  if (chance(0.1)) return [randomNode(event, depth - 1), randomNode(event, depth - 1)]
  return randomDirective(event, depth)
}

function randomObjectMapping(event, depth) {
  const mapping = {}
  for (let i = 0, n = 1 + upTo(3); i < n; i++) mapping[`f${i}`] = randomNode(event, Math.max(depth, 0))
  return mapping
}

const generated = []
for (let i = 0; i < RANDOM_CASES; i++) {
  const event = randomEvent()
  generated.push({ name: `random ${i}`, mapping: randomObjectMapping(event, 3), data: event })
}

// --- output -----------------------------------------------------------------------------

// Cases over the two shared events name them instead of repeating them.
const SHARED_DATA = { EVENT, LIQUID_SCOPE }
function withSharedData(result) {
  const shared = Object.keys(SHARED_DATA).find((name) => SHARED_DATA[name] === result.data)
  if (!shared) return result
  const { data, ...rest } = result
  return { ...rest, data_ref: shared }
}

const cases = [...hand, ...generated].map((spec) =>
  spec.op === 'field_value_keys' ? runValueKeys(spec) : withSharedData(runTransform(spec))
)
const names = new Set()
for (const each of cases) {
  if (names.has(each.name)) throw new Error(`duplicate case name: ${each.name}`)
  names.add(each.name)
}
const versions = Object.fromEntries(
  ['@segment/actions-core', 'liquidjs'].map((name) => [name, JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'))).version])
)
writeFileSync(
  OUTPUT,
  JSON.stringify(
    { generator: 'tools/reference/mapping_cases.mjs', versions, seed: RANDOM_SEED, shared_data: SHARED_DATA, cases },
    null,
    1
  ) + '\n'
)
console.log(`wrote ${cases.length} cases (${hand.length} hand-written, ${generated.length} random) to ${OUTPUT}`)
