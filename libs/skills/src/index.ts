export * from './skill';
export * from './registry';
export * from './builtins';
export * from './solver';
export { splitSentences, countSyllables, words, type Sentence } from './text/text';
export { STOPWORDS, isStopword } from './text/stopwords';
export * from './llm';
