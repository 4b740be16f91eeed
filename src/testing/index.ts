/**
 * `ftpsd/testing`: what backend authors need to check their own Storage against ftpsd's contract.
 */
export { storageContract, errnoOf, type StorageFixture, type StorageContractCase } from './storage-contract.js';
