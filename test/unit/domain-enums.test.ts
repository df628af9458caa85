import { expectTypeOf, it } from 'vitest';
import type * as Generated from '../../src/__generated__/resolvers-types.js';
import type * as Domain from '../../src/domain/enums.js';

// `tsc` checks these: the schema's enums and the model's must hold the same values.
it('the schema declares the same enum values as the domain model', () => {
  expectTypeOf<Generated.Role>().toEqualTypeOf<Domain.Role>();
  expectTypeOf<Generated.Tier>().toEqualTypeOf<Domain.Tier>();
  expectTypeOf<Generated.MemoryKind>().toEqualTypeOf<Domain.MemoryKind>();
  expectTypeOf<Generated.MemoryEventType>().toEqualTypeOf<Domain.MemoryEventType>();
  expectTypeOf<Generated.ApiKeyScope>().toEqualTypeOf<Domain.ApiKeyScope>();
});
